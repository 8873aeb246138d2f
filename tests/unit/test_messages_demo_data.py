"""The ``messages`` demo source: deterministic, and it holds the edges the export must handle."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from scripts.demo_data.messages import MessagesPlan, day_messages, plan_users, task_documents

PLAN = MessagesPlan(seed=5, days=4, apps=3, users=50, messages=2000)


def all_messages(plan: MessagesPlan) -> list[dict]:
    users = plan_users(plan)
    documents, sequence = [], 0
    for day in range(plan.days):
        documents += day_messages(plan, users, day, sequence)
        sequence = len(documents)
    return documents


def test_the_same_plan_gives_the_same_documents():
    assert all_messages(PLAN) == all_messages(PLAN)
    assert list(task_documents(PLAN, plan_users(PLAN))) == list(task_documents(PLAN, plan_users(PLAN)))


def test_sizes_order_and_unique_ids():
    documents = all_messages(PLAN)
    assert len(documents) == 2000 and len({document["_id"] for document in documents}) == 2000
    assert [d["timestamp"] for d in documents] == sorted(d["timestamp"] for d in documents)
    assert {d["project"] for d in documents} == {"demo-app-1", "demo-app-2", "demo-app-3"}
    assert Counter(d["type"] for d in documents).keys() == {"request", "response", "notification"}


def test_every_day_has_messages_at_midnight_and_new_users():
    documents = all_messages(PLAN)
    midnights = {d["timestamp"] for d in documents if d["timestamp"].time() == datetime.min.time()}
    assert midnights == {datetime(2024, 3, day) for day in range(1, 5)}
    first_seen = {}
    for document in documents:
        first_seen.setdefault(document["userId"], document["timestamp"].date())
    assert len(set(first_seen.values())) == 4  # users first seen on every day


def test_tasks_with_and_without_best_answers_and_best_answers_without_text():
    tasks = list(task_documents(PLAN, plan_users(PLAN)))
    best = [t for t in tasks if any(x["label"] == "bestAnswerTransaction" for x in t["transactions"])]
    assert best and len(best) < len(tasks)
    answers = {x["id"]: x for t in tasks for x in t["transactions"] if x["label"] == "answerTransaction"}
    chosen = [
        answers[x["attributes"]["transactionId"]]
        for t in best
        for x in t["transactions"]
        if x["label"] == "bestAnswerTransaction"
    ]
    assert any("answer" not in answer["attributes"] for answer in chosen)
    assert any("answer" in answer["attributes"] for answer in chosen)


def test_the_default_plan_is_the_issues_size_with_its_edges_on_every_day():
    """The demo's own size (3 apps, 2,000 users, 30 days, 300 k messages), streamed a day at a time."""
    plan = MessagesPlan()
    users = plan_users(plan)
    assert (plan.apps, len(users), plan.days, plan.messages) == (3, 2000, 30, 300_000)
    messages, ids, apps, midnights, first_seen = 0, set(), set(), set(), {}
    for day in range(plan.days):
        documents = day_messages(plan, users, day, messages)
        messages += len(documents)
        ids.update(document["_id"] for document in documents)
        apps.update(document["project"] for document in documents)
        midnights.update(d["timestamp"] for d in documents if d["timestamp"].time() == datetime.min.time())
        for document in documents:
            first_seen.setdefault(document["userId"], day)
    assert messages == len(ids) == 300_000
    assert apps == set(plan.app_ids)
    assert midnights == {datetime(2024, 3, day) for day in range(1, 31)}
    assert set(first_seen.values()) == set(range(30))  # somebody is new on every day
    tasks = list(task_documents(plan, users))
    labels = [{x["label"] for x in task["transactions"]} for task in tasks]
    assert any("bestAnswerTransaction" in task for task in labels)
    assert any("bestAnswerTransaction" not in task for task in labels)
