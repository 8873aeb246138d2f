"""The analytics table's metrics, in the table's order, with the sentence each row carries."""

from __future__ import annotations

# Transaction labels of the task manager, and the metric that counts each.
TRANSACTION_METRICS = {
    "reportQuestionTransaction": "question_reports",
    "notAnswerTransaction": "not_answered",
    "answerTransaction": "answers",
    "reportAnswerTransaction": "answer_reports",
    "bestAnswerTransaction": "best_answers",
    "moreAnswerTransaction": "more_answers_requested",
}
ANSWER_LABEL = "answerTransaction"
BEST_ANSWER_LABEL = "bestAnswerTransaction"

METRICS: dict[str, str] = {
    "total_users": "distinct users with a message in the range",
    "active_users": "distinct users who sent a request",
    "engaged_users": "distinct users who received a notification",
    "new_users": "users with a message in the range and none before it",
    "total_messages": "messages of every type",
    "user_messages": "requests sent by users",
    "user_text_messages": "requests whose content is text",
    "user_action_messages": "requests whose content is an action",
    "bot_messages": "responses sent by the bot",
    "notification_messages": "notifications sent by the platform",
    "questions": "questions (tasks) created",
    "question_reports": "reports of a question",
    "not_answered": "questions marked as not answered",
    "answers": "answers given",
    "answer_reports": "reports of an answer",
    "best_answers": "answers chosen as the best",
    "more_answers_requested": "requests for more answers",
}
MESSAGE_TYPE_METRICS = {
    "request": "user_messages",
    "response": "bot_messages",
    "notification": "notification_messages",
}
CONTENT_TYPE_METRICS = {"text": "user_text_messages", "action": "user_action_messages"}
