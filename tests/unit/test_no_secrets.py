"""No secret in the repository: every tracked file is scanned for private keys, cloud and chat tokens, and passwords in URIs.

The scanner is a pure function (:func:`findings`), tested on text made here so that no test file
holds a real-looking secret; the repository test runs it over ``git ls-files``. A password in a
URI is allowed only when it is a placeholder (``<...>``, ``${...}``, ``password``) or one of the
local stacks' throwaway values (:data:`LOCAL_ONLY`), which never leave 127.0.0.1.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PATTERNS = {
    "private key": re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"),
    "AWS access key id": re.compile(r"\b(?:AKIA|ASIA|AIDA|AROA)[0-9A-Z]{16}\b"),
    "AWS secret access key": re.compile(
        r"(?i)aws_secret_access_key\s*[=:]\s*['\"]?(?P<value>[A-Za-z0-9/+]{40})\b"
    ),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    "Slack token": re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    "Google API key": re.compile(r"\bAIza[0-9A-Za-z_\-]{35}\b"),
    "password in a URI": re.compile(r"[a-z][a-z0-9+.\-]*://[^/\s:@'\"]+:(?P<value>[^/\s@'\"]+)@"),
}
PLACEHOLDER = re.compile(r"^(?:<[^>]*>|\$\{[^}]*\}|\$[A-Z_]+|\*+|x+|password|pass|secret|\.\.\.)$", re.I)
# The local stacks' and the tests' throwaway credentials (scripts/stack.py, tests/): never a real system's.
LOCAL_ONLY = frozenset({"testing", "analytics", "airflow", "admin", "postgres", "s3cr%40t", "read%3Apass"})
NOT_TEXT = (".png", ".gz", ".lock")


def findings(text: str) -> list[tuple[int, str]]:
    """``(line number, kind)`` of each secret-like string in ``text``."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        for kind, pattern in PATTERNS.items():
            for match in pattern.finditer(line):
                value = match.groupdict().get("value")
                if value is not None and (PLACEHOLDER.match(value) or value in LOCAL_ONLY):
                    continue
                found.append((number, kind))
    return found


def fake(*parts: str) -> str:
    """A secret-shaped string assembled at run time, so the repository never holds it."""
    return "".join(parts)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (fake("-----BEGIN ", "RSA PRIVATE KEY-----\nMIIE..."), "private key"),
        (fake("-----BEGIN ", "OPENSSH PRIVATE KEY-----"), "private key"),
        (fake("key = AKIA", "Q3EXAMPLE7DEMOKE"), "AWS access key id"),
        (
            fake("aws_secret_access_key=", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEX", "AMPLEKEY"),
            "AWS secret access key",
        ),
        (fake("token: ghp_", "a" * 36), "GitHub token"),
        (fake("SLACK=xoxb-", "1234567890-abcdef"), "Slack token"),
        (fake("postgresql://reader:", "Tr0ub4dor&3", "@db.example.com/prod"), "password in a URI"),
    ],
)
def test_each_kind_of_secret_is_found(text, kind):
    assert kind in {found_kind for _, found_kind in findings(text)}


@pytest.mark.parametrize(
    "text",
    [
        "postgresql://elt_reader:<WAREHOUSE_READER_PASSWORD>@warehouse:5432/prod",
        "mongodb://airflow:${MONGO_PASSWORD}@mongo:27017",
        "postgres://user:password@host:port/database",
        "aws_access_key_id='testing', aws_secret_access_key='testing'",
        "https://github.com/apache/airflow",
        "minimum_password_length = 12",
    ],
)
def test_placeholders_and_local_values_are_not_findings(text):
    assert findings(text) == []


def tracked_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, check=True, capture_output=True).stdout
    return [REPO / name for name in listed.decode().split("\0") if name and not name.endswith(NOT_TEXT)]


def test_no_tracked_file_holds_a_secret():
    files = tracked_files()
    assert len(files) > 100  # the scan saw the repository, not an empty listing
    found = []
    for path in files:
        if not path.is_file():
            continue  # deleted in the working tree, not yet committed
        text = path.read_bytes().decode("utf-8", errors="replace")
        found += [f"{path.relative_to(REPO)}:{line}: {kind}" for line, kind in findings(text)]
    assert found == [], "secret-like strings in tracked files:\n" + "\n".join(found)
