"""Which block of the course structure a tracking event is about, and the fields it adds to the event.

An event names its block in many ways, depending on its source and on the edX release:
``context.module.usage_key``, ``event.problem_id``, ``event.id``, ``event.module_id``, the usage
key in a handler URL (``/courses/<course>/xblock/<usage key>/handler/...``), a ``/jump_to/`` URL,
an ``activate_block_id`` query value, or a courseware URL
(``/courses/<course>/courseware/<chapter>/<sequential>/<position>``). The key itself may be a
``block-v1:...+type@video+block@<id>`` key, an old ``i4x://org/course/video/<id>`` key (in URLs
also quoted ``i4x:;_;_org;_course;_video;_<id>``), the dashed ``i4x-org-course-video-<id>`` of
old video events, or the bare short id. :func:`block_references` lists the candidates, most
specific first; :class:`BlockIndex` (built from ``<course db>.course_structure``) resolves one to
its block by short id (with its category when the reference gives one); :func:`match_block`
takes the first that resolves, and :func:`enrichment` gives the ``block`` and ``parent_data``
fields written into the event. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import unquote

from analytics.edx.course_structure import short_block_id

# A usage key as it appears in a URL path: modern, old, or old quoted (edX's quote_slashes: "/" -> ";_").
_USAGE_KEY = r"block-v1:[^/?#&\s]+|i4x://[^/?#\s]+/[^/?#\s]+/[^/?#\s]+/[^/?#&\s]+|i4x:;_[^/?#&\s]+"
_XBLOCK = re.compile(rf"/xblock/(?P<key>{_USAGE_KEY})")
_JUMP_TO = re.compile(rf"/jump_to/(?P<key>{_USAGE_KEY})|/jump_to_id/(?P<short_id>[^/?#&\s]+)")
_COURSEWARE = re.compile(
    r"/courses/.+?/courseware/(?P<chapter>[^/?#]+)"
    r"(?:/(?P<sequential>[^/?#]+)(?:/(?P<position>[^/?#]*))?)?"
)
_BLOCK_V1_CATEGORY = re.compile(r"\+type@(?P<category>[^+@]+)\+block@")
_ACTIVATE_BLOCK_ID = "activate_block_id"
# The dashed old id is i4x-<org>-<course>-<category>-<id>; org and course may hold hyphens themselves.
_DASHED_PREFIX = "i4x-"
_DASHED_MIN_PARTS_BEFORE_ID = 3


class BlockIndex:
    """The blocks of one course structure, found by short id (and category, when a reference gives one)."""

    def __init__(self, blocks: Iterable[Mapping[str, Any]] = ()) -> None:
        self._by_key: dict[str, Mapping[str, Any]] = {}
        self._by_category_and_id: dict[tuple[str | None, str], Mapping[str, Any]] = {}
        self._by_short_id: dict[str, Mapping[str, Any]] = {}
        for block in blocks:
            key = block["_id"]
            short_id = block.get("block_id") or short_block_id(key)
            self._by_key.setdefault(key, block)
            self._by_category_and_id.setdefault((block.get("category"), short_id), block)
            self._by_short_id.setdefault(short_id, block)  # a short id shared by two categories: the first

    @classmethod
    def from_documents(cls, documents: Iterable[Mapping[str, Any]]) -> BlockIndex:
        """The index of the documents of ``<course db>.course_structure`` (see ``course_structure.py``)."""
        return cls(documents)

    def __len__(self) -> int:
        return len(self._by_key)

    def find(self, reference: str) -> Mapping[str, Any] | None:
        """The block a reference (any key form, or a bare short id) names; None when it names none here."""
        exact = self._by_key.get(reference)
        if exact is not None:
            return exact
        for category, short_id in reference_ids(reference):
            block = self._by_category_and_id.get((category, short_id)) if category else None
            block = block or self._by_short_id.get(short_id)
            if block is not None:
                return block
        return None

    def child_key(self, parent_reference: str, position: int) -> str | None:
        """The key of the parent's child at a 1-based ``position`` (a courseware URL's unit); None when there is none."""
        parent = self.find(parent_reference)
        children = (parent.get("children") or []) if parent is not None else []
        return children[position - 1] if 1 <= position <= len(children) else None


def reference_ids(reference: str) -> list[tuple[str | None, str]]:
    """``(category or None, short id)`` candidates for one reference, most likely first.

    ``block-v1:...+type@video+block@abc``, ``i4x://org/course/video/abc``, its quoted form
    ``i4x:;_;_org;_course;_video;_abc`` and ``i4x-org-course-video-abc`` all give
    ``("video", "abc")``; a bare ``abc`` gives ``(None, "abc")``. The dashed form is ambiguous when
    the org or course holds a hyphen, so it gives one candidate per possible split.
    """
    reference = reference.strip()
    if not reference:
        return []
    if reference.startswith("i4x:;_"):
        reference = reference.replace(";_", "/").replace(";;", ";")
    if "block@" in reference:
        found = _BLOCK_V1_CATEGORY.search(reference)
        return [(found["category"] if found else None, short_block_id(reference))]
    if reference.startswith("i4x://"):
        parts = reference[len("i4x://") :].rstrip("/").split("/")
        category = parts[2] if len(parts) >= 4 else None
        return [(category, short_block_id(reference))]
    if reference.startswith(_DASHED_PREFIX):
        parts = reference[len(_DASHED_PREFIX) :].split("-")
        candidates = [
            (parts[split - 1], "-".join(parts[split:]))
            for split in range(_DASHED_MIN_PARTS_BEFORE_ID, len(parts))
        ]
        return candidates + [(None, reference)]
    return [(None, reference)]


def block_references(event: Mapping[str, Any], index: BlockIndex | None = None) -> list[str]:
    """The references to a block in one event, most specific first, without repeats.

    The fields that hold a key (``context.module.usage_key``, ``event.problem_id``, ``event.id``
    when a string, ``event.module_id``), then the keys in the URLs of ``event_type`` and ``page``
    (handler, ``jump_to``, ``activate_block_id``, also in a server event's ``event.GET``), then
    their courseware paths: the unit at the URL's position (needs ``index``, which knows the
    sequential's children), the sequential, the chapter.
    """
    references: dict[str, None] = {}
    payload = event.get("event") if isinstance(event.get("event"), Mapping) else {}
    context = event.get("context") if isinstance(event.get("context"), Mapping) else {}
    module = context.get("module") if isinstance(context.get("module"), Mapping) else {}
    fields = (module.get("usage_key"), payload.get("problem_id"), payload.get("id"), payload.get("module_id"))
    urls = [text for text in (event.get("event_type"), event.get("page")) if isinstance(text, str)]
    for reference in (*fields, *_url_keys(urls), *_request_activate_block_ids(payload)):
        if isinstance(reference, str) and reference.strip():
            references.setdefault(reference.strip(), None)
    for reference in _courseware_references(urls, index):
        references.setdefault(reference, None)
    return list(references)


def match_block(event: Mapping[str, Any], index: BlockIndex) -> Mapping[str, Any] | None:
    """The block of the course structure the event is about: the first reference that resolves; None if none does."""
    if not len(index):
        return None
    for reference in block_references(event, index):
        block = index.find(reference)
        if block is not None:
            return block
    return None


def enrichment(block: Mapping[str, Any]) -> dict[str, Any]:
    """The fields added to an event about ``block``: ``block`` (its key, short id, category, name) and ``parent_data``."""
    return {
        "block": {
            "id": block["_id"],
            "block_id": block.get("block_id") or short_block_id(block["_id"]),
            "category": block.get("category"),
            "display_name": block.get("display_name"),
        },
        "parent_data": dict(block.get("parent_data") or {}),
    }


def _url_keys(urls: Iterable[str]) -> Iterator[str]:
    """Usage keys in handler and jump_to paths, then ``activate_block_id`` query values, URL by URL."""
    for url in urls:
        path, _, query = url.partition("#")[0].partition("?")
        path = unquote(path)
        for found in _XBLOCK.finditer(path):
            yield found["key"]
        for found in _JUMP_TO.finditer(path):
            yield found["key"] or found["short_id"]
        for pair in query.split("&"):
            name, _, value = pair.partition("=")
            if unquote(name) == _ACTIVATE_BLOCK_ID and value:
                yield unquote(value)  # not unquote_plus: a literal "+" in a block key stays "+"


def _request_activate_block_ids(payload: Mapping[str, Any]) -> Iterator[str]:
    """``activate_block_id`` in a server event's logged query string (``event.GET``: name -> list of values)."""
    query = payload.get("GET")
    values = query.get(_ACTIVATE_BLOCK_ID) if isinstance(query, Mapping) else None
    if isinstance(values, str):
        yield values
    elif isinstance(values, list):
        yield from (value for value in values if isinstance(value, str))


def _courseware_references(urls: Iterable[str], index: BlockIndex | None) -> Iterator[str]:
    """For each courseware URL: the unit at its 1-based position (when ``index`` resolves it), the sequential, the chapter."""
    for url in urls:
        found = _COURSEWARE.search(unquote(url.partition("#")[0].partition("?")[0]))
        if found is None:
            continue
        sequential, position = found["sequential"], found["position"]
        if index is not None and sequential and position and position.isdigit():
            unit = index.child_key(sequential, int(position))
            if unit is not None:
                yield unit
        if sequential:
            yield sequential
        yield found["chapter"]
