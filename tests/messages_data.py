"""A small hand-written chatbot platform for the message export's tests: every expected number is counted by hand.

App ``app-a`` on Friday 2024-03-01 (UTC), the range the tests mostly use:

- messages m2..m7 (6): m2 u1's text request at exactly 00:00 (in 03-01, not in 02-29), m3 the bot's
  response to it, m4 u2's action request, m5 its response, m6 a notification to u3, m7 u2's
  location request at 23:59:59. Outside: m1 (02-28) and m10 (02-29 00:00), u1's earlier requests
  (so u1 is not new), m8 u3's request at 03-02 00:00 (next day), m9 in ``app-b``.
  total_users 3 (u1 u2 u3), active 2 (u1 u2), engaged 1 (u3), new 2 (u2 u3), user 3, text 1,
  action 1, bot 2, notification 1.
- tasks t1 (u2, best answer a1 "Use the menu.", one more-answers request), t2 (u2, best answer a2
  which has no text, one answer report), t3 (u1, no best answer, not answered; its question report
  is at 03-02 00:00, outside), t4 (created 02-29, outside, but its answer a4 by u2 is at 03-01 07:00:
  counted). questions 3, question_reports 0, not_answered 1, answers 3 (a1 a2 a4), answer_reports 1,
  best_answers 2, more_answers_requested 1. t5 belongs to ``app-b``.
- users of app-a: u1, u2, u3 and u5 (no message); u4 is app-b's only.
"""

from __future__ import annotations

from datetime import datetime

APP = "app-a"
OTHER_APP = "app-b"


def at(text: str) -> datetime:
    """A naive UTC time, as stored."""
    return datetime.fromisoformat(text)


def message(id_: str, user: str, kind: str, when: str, content: str = "text", app: str = APP) -> dict:
    document = {
        "messageId": id_,
        "conversationId": f"c-{user}",
        "channel": "web",
        "userId": user,
        "timestamp": at(when),
        "project": app,
        "type": kind,
        "content": {"type": content, "value": f"{id_} says hi"},
        "metadata": {},
    }
    if kind == "request":
        document.update(domain="support", intent="ask", entities=[], language="en")
    if kind == "response":
        document["responseTo"] = f"m{int(id_[1:]) - 1}"
    return document


MESSAGES = [
    message("m1", "u1", "request", "2024-02-28T10:00:00"),
    message("m10", "u1", "request", "2024-02-29T00:00:00"),
    message("m2", "u1", "request", "2024-03-01T00:00:00"),
    message("m3", "u1", "response", "2024-03-01T00:00:01"),
    message("m4", "u2", "request", "2024-03-01T09:00:00", "action"),
    message("m5", "u2", "response", "2024-03-01T09:00:01"),
    message("m6", "u3", "notification", "2024-03-01T12:00:00"),
    message("m7", "u2", "request", "2024-03-01T23:59:59", "location"),
    message("m8", "u3", "request", "2024-03-02T00:00:00"),
    message("m9", "u4", "request", "2024-03-01T10:00:00", app=OTHER_APP),
]


def transaction(id_: str, label: str, actor: str, when: str, **attributes: str) -> dict:
    return {"id": id_, "label": label, "actioneerId": actor, "creationTs": at(when), "attributes": attributes}


def task(
    id_: str, requester: str, when: str, question: str, transactions: list[dict], app: str = APP
) -> dict:
    return {
        "id": id_,
        "appId": app,
        "requesterId": requester,
        "goal": {"name": question},
        "creationTs": at(when),
        "transactions": transactions,
    }


TASKS = [
    task("t1", "u2", "2024-03-01T08:00:00", "How do I reset it?", [
        transaction("a1", "answerTransaction", "u1", "2024-03-01T08:30:00", answer="Use the menu."),
        transaction("b1", "bestAnswerTransaction", "u2", "2024-03-01T09:00:00", transactionId="a1"),
        transaction("x1", "moreAnswerTransaction", "u2", "2024-03-01T09:10:00"),
    ]),
    task("t2", "u2", "2024-03-01T10:00:00", "Where is it, exactly?", [
        transaction("a2", "answerTransaction", "u3", "2024-03-01T11:00:00"),
        transaction("b2", "bestAnswerTransaction", "u2", "2024-03-01T11:30:00", transactionId="a2"),
        transaction("r2", "reportAnswerTransaction", "u1", "2024-03-01T11:40:00"),
    ]),
    task("t3", "u1", "2024-03-01T13:00:00", "Why?", [
        transaction("n3", "notAnswerTransaction", "u3", "2024-03-01T14:00:00"),
        transaction("q3", "reportQuestionTransaction", "u2", "2024-03-02T00:00:00"),
    ]),
    task("t4", "u1", "2024-02-29T15:00:00", "An old question?", [
        transaction("a4", "answerTransaction", "u2", "2024-03-01T07:00:00", answer="A late answer."),
    ]),
    task("t5", "u4", "2024-03-01T10:00:00", "Other app?", [
        transaction("a5", "answerTransaction", "u4", "2024-03-01T10:05:00", answer="Yes."),
    ], app=OTHER_APP),
]  # fmt: skip


def user(id_: str, first: str, last: str, apps: list[str], **more: str) -> dict:
    return {
        "id": id_,
        "name": {"first": first, "last": last},
        "email": f"{first.lower()}@example.org",
        "gender": more.get("gender", ""),
        "incentive_cohort": more.get("cohort", ""),
        "apps": apps,
        "creationTs": at("2024-01-01T00:00:00"),
    }


USERS = [
    user("u1", "Ada", "Lovelace", [APP], gender="female", cohort="A"),
    user("u2", "Bob", "Martin", [APP, OTHER_APP], gender="male", cohort="B"),
    user("u3", "Cy", "Young", [APP]),
    user("u4", "Dee", "Other", [OTHER_APP]),
    user("u5", "Eve", "Quiet", [APP], cohort="A"),
]

# The metrics of app-a on 2024-03-01, counted by hand (see the module's docstring).
MARCH_1 = {
    "total_users": 3,
    "active_users": 2,
    "engaged_users": 1,
    "new_users": 2,
    "total_messages": 6,
    "user_messages": 3,
    "user_text_messages": 1,
    "user_action_messages": 1,
    "bot_messages": 2,
    "notification_messages": 1,
    "questions": 3,
    "question_reports": 0,
    "not_answered": 1,
    "answers": 3,
    "answer_reports": 1,
    "best_answers": 2,
    "more_answers_requested": 1,
}


def load_platform(database) -> None:
    """The fixture's three collections into ``database``."""
    database.messages.insert_many([dict(document) for document in MESSAGES])
    database.tasks.insert_many([dict(document) for document in TASKS])
    database.users.insert_many([dict(document) for document in USERS])
