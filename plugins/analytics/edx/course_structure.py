"""Flatten a course's block tree into one document per block, each knowing its chapter, sequential and vertical.

The input is the data package's course structure (block key -> ``{"category", "children",
"metadata"}``) or the LMS Course Blocks API answer (``{"blocks": {key: {"type", "display_name",
"children"}}}``), normalised first. ``conditional`` and ``wrapper`` blocks only group other blocks,
so they are spliced out: they get no document and their children take their place, in order, in
their parent's children. Each document records its parent (the first parent in document order,
when a block is shared) and ``parent_data``: the short id, display name and 0-based position
among its parent's spliced children of the nearest chapter, sequential and vertical above it,
for the levels that exist (``{}`` when there are none). A child that is referenced but absent is
dropped from its parent's children and reported as a ``Rejection``; everything else loads,
including blocks that no course root reaches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from analytics.core.accounting import Rejection
from analytics.core.mongo_keys import encode_keys

SPLICED_CATEGORIES = frozenset({"conditional", "wrapper"})
PARENT_DATA_LEVELS = ("chapter", "sequential", "vertical")
# Fields of a Blocks API block that are not kept in the document's metadata.
_BLOCKS_API_STRUCTURE_FIELDS = {"id", "block_id", "type", "display_name", "children"}


@dataclass
class StructureResult:
    """The block documents of one course structure, and what could not be loaded."""

    blocks: list[dict[str, Any]] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)


@dataclass(frozen=True)
class CourseBlock:
    """One block of a course structure, in the shape both input formats are normalised to."""

    key: str
    category: str | None
    display_name: str | None
    children: list[str]
    metadata: dict[str, Any]


def flatten_course_structure(raw: dict[str, Any], source: str) -> StructureResult:
    """One document per block (spliced blocks excepted) of a course structure or Blocks API answer.

    ``source`` names the input (usually its file name) in rejections.
    """
    result = StructureResult()
    blocks = normalise_course_structure(raw, source, result.rejections)
    result.rejections.extend(_missing_child_rejections(blocks, source))
    children_of = {
        key: _spliced_children(key, blocks, ancestors=(key,))
        for key, block in blocks.items()
        if block.category not in SPLICED_CATEGORIES
    }
    parent_of: dict[str, str] = {}
    position_of: dict[str, int] = {}
    for parent, children in children_of.items():
        for position, child in enumerate(children):
            if child not in parent_of:
                parent_of[child] = parent
                position_of[child] = position
    for key, children in children_of.items():
        block = blocks[key]
        result.blocks.append(
            {
                "_id": key,
                "block_id": short_block_id(key),
                "category": block.category,
                "display_name": block.display_name,
                "children": children,
                "parent": parent_of.get(key),
                "parent_data": _parent_data(key, blocks, parent_of, position_of),
                "metadata": block.metadata,
            }
        )
    return result


def normalise_course_structure(
    raw: dict[str, Any], source: str, rejections: list[Rejection]
) -> dict[str, CourseBlock]:
    """Block key -> CourseBlock, from either input format; a malformed block is added to rejections."""
    blocks_api = isinstance(raw.get("blocks"), dict)
    entries = raw["blocks"] if blocks_api else raw
    blocks: dict[str, CourseBlock] = {}
    for key, entry in entries.items():
        children = entry.get("children", []) if isinstance(entry, dict) else None
        if not isinstance(children, list) or not all(isinstance(child, str) for child in children):
            rejections.append(Rejection(source, None, "bad block", detail=f"{key}: not a block object"))
            continue
        blocks[key] = _block_from_blocks_api(key, entry) if blocks_api else _block_from_structure(key, entry)
    return blocks


def short_block_id(key: str) -> str:
    """The id after ``block@`` in a block key (the last path segment of an old ``i4x://`` key)."""
    if "block@" in key:
        return key.rsplit("block@", 1)[1]
    return key.rstrip("/").rsplit("/", 1)[-1]


def _block_from_structure(key: str, entry: dict[str, Any]) -> CourseBlock:
    metadata = entry.get("metadata") if isinstance(entry.get("metadata"), dict) else {}
    return CourseBlock(
        key=key,
        category=entry.get("category"),
        display_name=metadata.get("display_name"),
        children=list(entry.get("children", [])),
        metadata=encode_keys(metadata),
    )


def _block_from_blocks_api(key: str, entry: dict[str, Any]) -> CourseBlock:
    metadata = {name: value for name, value in entry.items() if name not in _BLOCKS_API_STRUCTURE_FIELDS}
    return CourseBlock(
        key=key,
        category=entry.get("type"),
        display_name=entry.get("display_name"),
        children=list(entry.get("children", [])),
        metadata=encode_keys(metadata),
    )


def _missing_child_rejections(blocks: dict[str, CourseBlock], source: str) -> list[Rejection]:
    return [
        Rejection(source, None, "missing child", detail=f"{block.key} -> {child}", quality_only=True)
        for block in blocks.values()
        for child in block.children
        if child not in blocks
    ]


def _spliced_children(key: str, blocks: dict[str, CourseBlock], ancestors: tuple[str, ...]) -> list[str]:
    """The block's children with missing ones dropped and spliced blocks replaced by their own children.

    ``ancestors`` guards against a spliced block that contains itself.
    """
    children: list[str] = []
    for child in blocks[key].children:
        child_block = blocks.get(child)
        if child_block is None or child in ancestors:
            continue
        if child_block.category in SPLICED_CATEGORIES:
            children.extend(_spliced_children(child, blocks, ancestors + (child,)))
        else:
            children.append(child)
    return children


def _parent_data(
    key: str, blocks: dict[str, CourseBlock], parent_of: dict[str, str], position_of: dict[str, int]
) -> dict[str, Any]:
    """Id, display name and position of the nearest chapter, sequential and vertical above the block."""
    found: dict[str, dict[str, Any]] = {}
    visited = {key}
    ancestor = parent_of.get(key)
    while ancestor is not None and ancestor not in visited:
        visited.add(ancestor)
        level = blocks[ancestor].category
        if level in PARENT_DATA_LEVELS and level not in found:
            found[level] = {
                f"{level}_id": short_block_id(ancestor),
                f"{level}_display_name": blocks[ancestor].display_name,
                f"{level}_position": position_of.get(ancestor),
            }
        ancestor = parent_of.get(ancestor)
    return {name: value for level in PARENT_DATA_LEVELS for name, value in found.get(level, {}).items()}
