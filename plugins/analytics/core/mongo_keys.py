"""One reversible rule that makes any JSON object key a safe MongoDB field name.

MongoDB refuses (or mis-reads in queries and updates) field names that start with ``$`` or
contain ``.``, and no field name may hold NUL. edX writes such keys: openassessment events carry
``"points.possible"`` and ``"file.names"``, some forms post ``$``-prefixed names. Instead of
refusing those events, the keys are percent-encoded:

==========================  =========
in a key                    becomes
==========================  =========
``%`` (anywhere)            ``%25``
``.`` (anywhere)            ``%2E``
NUL (anywhere)              ``%00``
``$`` (first character)     ``%24``
==========================  =========

``%`` is encoded too, so that decoding is exact: :func:`decode_key` turns ``%25``, ``%2E``,
``%00`` and ``%24`` back in one pass, and ``decode_key(encode_key(k)) == k`` for every key. Keys
without any of those characters (nearly all) are left as they are, and so are values: only keys
change. Query an encoded field by its encoded name (``{"event.answer.file%2Enames": ...}``).
Pure: no I/O.
"""

from __future__ import annotations

import re
from typing import Any

_ENCODED = re.compile("%(25|2E|00|24)")
_DECODED = {"25": "%", "2E": ".", "00": "\x00", "24": "$"}


def key_needs_encoding(key: str) -> bool:
    """True when ``key`` is changed by :func:`encode_key`."""
    return "." in key or "%" in key or "\x00" in key or key[:1] == "$"


def has_unsafe_keys(value: Any) -> bool:
    """True when some object key in ``value``, at any depth, needs encoding (or may: a ``$`` inside a key).

    The fast test before :func:`encode_keys`, run on every tracking event. A dict whose keys are
    all known safe costs one C-level ``issuperset`` on :data:`_SAFE_KEYS` (tracking logs use a few
    hundred distinct keys, and orjson hands the same string objects back, so the lookups hit
    cached hashes); only keys not seen before are tested. The answer is exact either way: the set
    holds nothing but keys that were tested and found safe.
    """
    if type(value) is dict:
        if not _SAFE_KEYS.issuperset(value):
            for key in value:
                if key not in _SAFE_KEYS:
                    if "." in key or "$" in key or "%" in key or "\x00" in key:
                        return True
                    if len(_SAFE_KEYS) < SAFE_KEYS_REMEMBERED:
                        _SAFE_KEYS.add(key)
        items = value.values()
    elif type(value) is list:
        items = value
    else:
        return False
    for item in items:
        kind = type(item)
        if (kind is dict or kind is list) and has_unsafe_keys(item):
            return True
    return False


SAFE_KEYS_REMEMBERED = 100_000
"""At most this many safe keys are remembered (a few MB): past it, new keys are tested each time."""
_SAFE_KEYS: set[str] = set()


def encode_key(key: str) -> str:
    """``key`` as a safe MongoDB field name (see the module's table); unchanged when already safe."""
    if not key_needs_encoding(key):
        return key
    encoded = key.replace("%", "%25").replace(".", "%2E").replace("\x00", "%00")
    return "%24" + encoded[1:] if encoded[:1] == "$" else encoded


def decode_key(key: str) -> str:
    """The original key of an encoded one: the exact reverse of :func:`encode_key`."""
    if "%" not in key:
        return key
    return _ENCODED.sub(lambda match: _DECODED[match[1]], key)


def encode_keys(value: Any) -> Any:
    """``value`` with every object key at every depth encoded; the same object when none needs it.

    Built for speed on the common case: containers are only copied along the path to a key that
    changes, so a document with safe keys costs one walk and no allocation.
    """
    if type(value) is dict:
        changed: dict[str, Any] | None = None
        for key, item in value.items():
            new_item = encode_keys(item) if type(item) in _CONTAINERS else item
            new_key = encode_key(key) if key_needs_encoding(key) else key
            if changed is None and (new_key is not key or new_item is not item):
                changed = {}
                for earlier_key, earlier_item in value.items():  # copy what came before this key
                    if earlier_key == key:
                        break
                    changed[earlier_key] = earlier_item
            if changed is not None:
                changed[new_key] = new_item
        return value if changed is None else changed
    if type(value) is list:
        new_items = None
        for index, item in enumerate(value):
            if type(item) in _CONTAINERS:
                new_item = encode_keys(item)
                if new_item is not item:
                    if new_items is None:
                        new_items = list(value)
                    new_items[index] = new_item
        return value if new_items is None else new_items
    return value


def decode_keys(value: Any) -> Any:
    """``value`` with every object key at every depth decoded (a copy): the reverse of :func:`encode_keys`."""
    if isinstance(value, dict):
        return {decode_key(key): decode_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [decode_keys(item) for item in value]
    return value


_CONTAINERS = frozenset({dict, list})
