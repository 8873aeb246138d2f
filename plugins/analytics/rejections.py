"""Records of input that could not be loaded, so every line or row is accounted for."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rejection:
    """One input line, row or file that was not loaded, and why.

    ``reason`` is a short, stable name used as a counter key in summaries
    (for example ``"wrong field count"``); ``detail`` says what exactly was wrong.
    """

    file: str
    line: int | None
    reason: str
    field: str | None = None
    detail: str = ""

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        what = self.reason if self.field is None else f"field '{self.field}': {self.reason}"
        return f"{where}: {what}" + (f" ({self.detail})" if self.detail else "")
