"""The export's table files: which tables exist, and CSV or TSV chosen by each file name's extension."""

from __future__ import annotations

from pathlib import PurePosixPath

TABLES = ("analytics", "questions", "users", "id_email")
PERSONAL_TABLES = frozenset({"users", "id_email"})  # names and e-mails: written only when asked
DUMPS = ("messages.jsonl", "tasks.jsonl")
SEPARATORS = {".csv": ",", ".tsv": "\t"}


def table_format(file_name: str, param: str = "file name") -> str:
    """The field separator for ``file_name`` (``.csv``: comma, ``.tsv``: tab); ValueError naming the param otherwise."""
    name = PurePosixPath(file_name)
    if not file_name or name.name != file_name or name.name.startswith("."):
        raise ValueError(f"{param}: {file_name!r} is not a plain file name (like analytics.csv)")
    if name.suffix.lower() not in SEPARATORS:
        raise ValueError(
            f"{param}: {file_name!r} must end in .csv or .tsv, not {name.suffix or 'no extension'!r}"
        )
    return SEPARATORS[name.suffix.lower()]
