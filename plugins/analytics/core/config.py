"""The one loader for ``include/config/``: JSON files read at run time, with errors that name the file and key.

Every configuration (the engagement ELT's, course configs, the BI and message settings to come)
is read through :func:`load_json_config` and its values checked with :func:`require`, so a
missing or mistyped key fails with ``include/config/x.json: key 'a.b': expected int, got 'x'``
instead of a bare ``KeyError`` deep in a task.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

CONFIG_DIR = Path(__file__).resolve().parents[3] / "include" / "config"
_MISSING = object()


class ConfigError(ValueError):
    """A configuration file that cannot be used; the message names the file and, where one is at fault, the key."""

    def __init__(self, path: Path | str, message: str, key: str | None = None) -> None:
        self.path = Path(path)
        self.key = key
        where = f"{self.path}" + (f": key '{key}'" if key else "")
        super().__init__(f"{where}: {message}")


def config_path(name: str) -> Path:
    """The path of ``include/config/<name>``."""
    return CONFIG_DIR / name


def load_json_config(path: Path | str) -> dict[str, Any]:
    """The JSON object in ``path``; ConfigError when the file is missing, not JSON or not an object."""
    import orjson

    path = Path(path)
    try:
        raw = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise ConfigError(path, "file not found") from None
    except orjson.JSONDecodeError as error:
        raise ConfigError(path, f"not valid JSON: {error}") from None
    if not isinstance(raw, dict):
        raise ConfigError(path, f"expected a JSON object, got {type(raw).__name__}")
    return raw


def require(
    raw: Mapping[str, Any],
    key: str,
    kind: type | tuple[type, ...],
    path: Path | str,
    default: Any = _MISSING,
) -> Any:
    """``raw[key]`` checked to be of ``kind``; ``default`` when absent (required when no default is given).

    ``key`` may be dotted (``active_user_rule.minimum``) to reach into nested objects. ``bool``
    is never accepted where ``int`` is asked for (JSON ``true`` is not a count).
    """
    value: Any = raw
    for part in key.split("."):
        if not isinstance(value, Mapping) or part not in value:
            if default is not _MISSING:
                return default
            raise ConfigError(path, "missing", key)
        value = value[part]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        raise ConfigError(path, f"expected {_names(kinds)}, got {value!r}", key)
    if not isinstance(value, kinds):
        raise ConfigError(path, f"expected {_names(kinds)}, got {value!r}", key)
    return value


def _names(kinds: tuple[type, ...]) -> str:
    return " or ".join(kind.__name__ for kind in kinds)
