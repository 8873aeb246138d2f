"""Where the real public edX samples are (``../shared/edx-samples``), for tests that read them.

Their absence is a failure, never a skip: CI always has them beside the repository.
"""

from __future__ import annotations

from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "edx-samples"
OBFUSCATION_STATE = "edx-analytics-pipeline/obfuscation_state"


def edx_sample(relative_path: str) -> Path:
    """The sample file or folder at ``relative_path`` under edx-samples; fails the test if missing."""
    path = SAMPLES / relative_path
    if not path.exists():
        pytest.fail(f"real edX samples missing: expected {path} (../shared/edx-samples from the repo root)")
    return path
