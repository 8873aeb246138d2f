"""Message analytics: exact chatbot analytics, questions and users of one app over a time range, as files."""
