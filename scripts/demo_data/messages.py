"""The ``messages`` source of the demo data: the chatbot platform's MongoDB database (``messages``) that
``message_analytics_export`` reads: ``users`` (the user hub), ``messages`` (the logger: requests,
bot responses, notifications) and ``tasks`` (questions with their answer transactions), for
``--apps`` apps over ``--days`` days from ``--start-date`` (UTC). Every day has a few messages at
exactly 00:00:00; users are first seen on a day spread over the range (so every window has new
users); tasks come with and without a best answer, and some best answers point to an answer
without text. The same arguments always give the same documents (one random stream per part, ids
derived from time and position); one day of messages is held in memory at a time. It empties the
three collections first, and refuses a non-local host unless ``--allow-remote`` is given."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from .randomness import derived_random, random_time_between

REPO = Path(__file__).resolve().parents[2]
CONTENT_TYPES = (("text", 70), ("action", 20), ("location", 5), ("attachment", 5))
LABELS = (
    "notAnswerTransaction",
    "reportQuestionTransaction",
    "reportAnswerTransaction",
    "moreAnswerTransaction",
)
MIDNIGHT_MESSAGES_PER_DAY = 3
SHARE_NOTIFICATIONS = 0.1
TASKS_PER_1000_MESSAGES = 5
FIRST_NAMES = ("Ada", "Bob", "Chloe", "Dev", "Emma", "Farid", "Gina", "Hugo", "Ines", "Jon")
LAST_NAMES = ("Martin", "Bernard", "Dubois", "Moreau", "Laurent", "Simon", "Garcia", "Roux")
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


@dataclass(frozen=True)
class MessagesPlan:
    seed: int = 42
    start_date: str = "2024-03-01"
    days: int = 30
    apps: int = 3
    users: int = 2000
    messages: int = 300_000

    def __post_init__(self) -> None:
        for name in ("days", "apps", "users", "messages"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name} must be at least 1")
        datetime.fromisoformat(self.start_date)

    @property
    def start(self) -> datetime:
        return datetime.fromisoformat(self.start_date)

    @property
    def app_ids(self) -> list[str]:
        return [f"demo-app-{index}" for index in range(1, self.apps + 1)]


@dataclass(frozen=True)
class DemoUser:
    id: str
    apps: tuple[str, ...]
    first_day: int


def plan_users(plan: MessagesPlan) -> list[DemoUser]:
    rng = derived_random(plan.seed, "messages", "users")
    users = []
    for index in range(plan.users):
        apps = tuple(sorted(rng.sample(plan.app_ids, k=1 if rng.random() < 0.8 or plan.apps == 1 else 2)))
        users.append(DemoUser(f"user-{index:05d}", apps, rng.randrange(plan.days)))
    return users


def user_documents(plan: MessagesPlan, users: list[DemoUser]) -> Iterator[dict]:
    rng = derived_random(plan.seed, "messages", "user documents")
    for user in users:
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        yield {
            "id": user.id,
            "name": {"first": first, "last": last},
            "email": f"{first.lower()}.{last.lower()}.{user.id[-5:]}@example.org",
            "gender": rng.choice(("female", "male", "other", "")),
            "incentive_cohort": rng.choice(("A", "B", "control")),
            "apps": list(user.apps),
            "creationTs": plan.start - timedelta(days=30) + timedelta(days=user.first_day),
        }


def _object_id(moment: datetime, sequence: int) -> object:
    from bson import ObjectId

    return ObjectId(f"{int((moment - datetime(1970, 1, 1)).total_seconds()):08x}{sequence:016x}")


def day_messages(plan: MessagesPlan, users: list[DemoUser], day: int, sequence: int) -> list[dict]:
    """One day's messages in time order: request/response pairs, notifications, a few at 00:00:00."""
    rng = derived_random(plan.seed, "messages", "day", day)
    active = [user for user in users if user.first_day <= day] or users[:1]
    start = plan.start + timedelta(days=day)
    count = plan.messages // plan.days + (1 if day < plan.messages % plan.days else 0)
    documents: list[dict] = []
    while len(documents) < count:
        user = rng.choice(active)
        app = rng.choice(user.apps)
        if len(documents) < MIDNIGHT_MESSAGES_PER_DAY:
            moment = start
        else:
            moment = random_time_between(rng, start, start + timedelta(days=1) - timedelta(seconds=2))
            moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
        if rng.random() < SHARE_NOTIFICATIONS:
            documents.append(_message(rng, "notification", user.id, app, moment))
            continue
        request = _message(rng, "request", user.id, app, moment)
        documents.append(request)
        if len(documents) < count:
            response = _message(rng, "response", user.id, app, moment + timedelta(seconds=1))
            response["responseTo"] = request["messageId"]
            documents.append(response)
    documents.sort(key=lambda document: (document["timestamp"], document["messageId"]))
    for offset, document in enumerate(documents):
        document["_id"] = _object_id(document["timestamp"], sequence + offset)
    return documents


def _message(rng, kind: str, user: str, app: str, moment: datetime) -> dict:
    content_type = "text" if kind != "request" else rng.choices(*zip(*CONTENT_TYPES, strict=True))[0]
    document = {
        "messageId": f"msg-{rng.getrandbits(64):016x}",
        "conversationId": f"conv-{app}-{user}",
        "channel": rng.choice(("web", "messenger", "slack")),
        "userId": user,
        "timestamp": moment,
        "project": app,
        "type": kind,
        "content": {"type": content_type, "value": f"{kind} {rng.randrange(1000)}"},
        "metadata": {"demo": True},
    }
    if kind == "request":
        document.update(
            domain="support", intent=rng.choice(("ask", "greet", "thank")), entities=[], language="en"
        )
    return document


def task_documents(plan: MessagesPlan, users: list[DemoUser]) -> Iterator[dict]:
    """Questions over the range: some with a best answer, some without, some best answers without text."""
    rng = derived_random(plan.seed, "messages", "tasks")
    total = max(plan.messages * TASKS_PER_1000_MESSAGES // 1000, 4)
    end = plan.start + timedelta(days=plan.days)
    for index in range(total):
        requester = rng.choice(users)
        created = random_time_between(rng, plan.start, end - timedelta(hours=6)).replace(microsecond=0)
        transactions = []
        untexted_best = index % 10 == 4  # its best answer (the last answer) has no text
        answers = max(rng.choice((0, 1, 1, 2, 3)), 1 if untexted_best else 0)
        for answer in range(answers):
            last = answer == answers - 1
            text = {"answer": f"Answer {answer + 1} to question {index}."}
            attributes = {} if untexted_best and last else text
            transactions.append(
                _transaction(rng, f"tx-{index}-a{answer}", "answerTransaction", users, created, attributes)
            )
        if transactions and index % 3 != 0:
            chosen = transactions[-1]["id"]
            transactions.append(
                _transaction(
                    rng,
                    f"tx-{index}-best",
                    "bestAnswerTransaction",
                    users,
                    created,
                    {"transactionId": chosen},
                )
            )
        if rng.random() < 0.3:
            transactions.append(_transaction(rng, f"tx-{index}-x", rng.choice(LABELS), users, created, {}))
        yield {
            "id": f"task-{index:06d}",
            "appId": rng.choice(requester.apps),
            "requesterId": requester.id,
            "goal": {"name": f"Question {index}: how does feature {rng.randrange(50)} work?"},
            "creationTs": created,
            "transactions": transactions,
        }  # fmt: skip


def _transaction(rng, id_: str, label: str, users: list[DemoUser], after: datetime, attributes: dict) -> dict:
    moment = after + timedelta(minutes=rng.randrange(1, 300))
    return {
        "id": id_,
        "label": label,
        "actioneerId": rng.choice(users).id,
        "creationTs": moment,
        "attributes": attributes,
    }


# ---------------------------------------------------------------- command line


@dataclass(frozen=True)
class MessagesRun:
    plan: MessagesPlan
    uri: str
    database: str
    allow_remote: bool = False


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = MessagesPlan()
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--start-date", default=defaults.start_date, help="first day (YYYY-MM-DD, UTC)")
    parser.add_argument("--days", type=int, default=defaults.days)
    parser.add_argument("--apps", type=int, default=defaults.apps)
    parser.add_argument("--users", type=int, default=defaults.users)
    parser.add_argument("--messages", type=int, default=defaults.messages, help="the scale (bench: 1000000)")
    parser.add_argument("--mongo-uri", help="default: $AIRFLOW_CONN_MONGO_DEFAULT")
    parser.add_argument("--database", default=os.environ.get("AIRFLOW_VAR_MESSAGES_DATABASE") or "messages")
    parser.add_argument("--allow-remote", action="store_true", help="allow a non-local MongoDB host")


def options(arguments: argparse.Namespace) -> MessagesRun:
    plan = MessagesPlan(
        arguments.seed,
        arguments.start_date,
        arguments.days,
        arguments.apps,
        arguments.users,
        arguments.messages,
    )
    uri = arguments.mongo_uri or os.environ.get("AIRFLOW_CONN_MONGO_DEFAULT")
    if not uri:
        raise ValueError("no MongoDB: pass --mongo-uri or set AIRFLOW_CONN_MONGO_DEFAULT")
    uri = "mongodb://" + uri.split("://", 1)[1]
    host = urlsplit(uri).hostname or ""
    if host not in LOCAL_HOSTS and not arguments.allow_remote:
        raise ValueError(f"MongoDB host {host!r} is not local: pass --allow-remote to write there")
    return MessagesRun(plan, uri, arguments.database, arguments.allow_remote)


def write_dataset(database, plan: MessagesPlan) -> Counter:
    """Empty the three collections and write the plan's documents; the counts written."""
    if str(REPO / "plugins") not in sys.path:
        sys.path.insert(0, str(REPO / "plugins"))
    from analytics.stores.mongo import MongoBatchWriter

    counts: Counter = Counter()
    for name in ("users", "messages", "tasks"):
        database[name].drop()
    users = plan_users(plan)
    with MongoBatchWriter(database.users) as writer:
        for document in user_documents(plan, users):
            writer.add(document)
            counts["users"] += 1
    with MongoBatchWriter(database.messages) as writer:
        for day in range(plan.days):
            for document in day_messages(plan, users, day, counts["messages"]):
                writer.add(document)
                counts["messages"] += 1
                counts["messages at 00:00"] += document["timestamp"].time() == datetime.min.time()
    with MongoBatchWriter(database.tasks) as writer:
        for document in task_documents(plan, users):
            writer.add(document)
            counts["tasks"] += 1
    return counts


def run(messages_run: MessagesRun) -> int:
    from pymongo import MongoClient

    plan = messages_run.plan
    started = time.monotonic()
    with MongoClient(messages_run.uri) as client:
        counts = write_dataset(client[messages_run.database], plan)
    print(
        f"messages platform data (seed {plan.seed}, {plan.days} days from {plan.start_date}, UTC, apps "
        f"{', '.join(plan.app_ids)}) written to database {messages_run.database!r} in {time.monotonic() - started:.1f}s"
    )
    for name, count in counts.items():
        print(f"  {name:<22} {count:>10}")
    return 0
