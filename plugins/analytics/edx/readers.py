"""The data-package files, read as streams of documents and rejections (the I/O of the edX readers).

Each reader opens one file and yields, record by record, a ``SourceDocument`` (the document and
its line) or a ``Rejection``; nothing is held whole but a course structure, which is one JSON
document. The parsing is done by the pure modules: :mod:`analytics.edx.tables` (TSV rows),
:mod:`analytics.edx.extended_json` (forum lines), :mod:`analytics.edx.course_structure` (blocks).
:func:`records_for` picks the reader and the target collection of a package file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from analytics.core.accounting import Rejection
from analytics.core.mongo_keys import encode_key
from analytics.edx.course_structure import flatten_course_structure
from analytics.edx.extended_json import line_to_document
from analytics.edx.package import COURSE_STRUCTURE_FILE, FORUM_FILE, PackageFile
from analytics.edx.tables import (
    COURSE_STRUCTURE_COLLECTION,
    FORUM_COLLECTION,
    TABLE_SCHEMAS,
    RowReader,
    SourceDocument,
    collection_for_table,
    decode_header,
    duplicate_column,
    id_column_for,
    is_credential_column,
    strip_line_end,
)


def iter_table_documents(path: Path, table: str) -> Iterator[SourceDocument | Rejection]:
    """Stream a table export: one typed document per row with its line, or a Rejection per row that cannot load.

    The file is read line by line in binary and never held whole. Line numbers are 1-based file
    lines (the header is line 1). A 0-byte file yields one ``"empty file"`` rejection; a header
    that is not UTF-8, is blank or names a column twice yields one rejection for line 1 and
    nothing else, since no row can be read without it. Blank lines at the end of the file are
    ignored. A row whose key column (see ``TABLE_ID_COLUMNS``) is NULL is rejected as
    ``"missing id"``.
    """
    schema = TABLE_SCHEMAS.get(table, {})
    file_name = path.name
    with path.open("rb") as lines:
        header_line = lines.readline()
        if not header_line:
            yield Rejection(file_name, None, "empty file", detail="no header line", whole_file=True)
            return
        header = decode_header(file_name, header_line)
        if isinstance(header, Rejection):
            yield header
            return
        columns = [encode_key(column) for column in header]
        duplicate = duplicate_column(file_name, header, columns, lines)
        if duplicate is not None:
            yield duplicate
            return
        row = RowReader(file_name, columns, schema, id_column_for(table, columns))
        blank_line_numbers: list[int] = []
        for line_number, raw_line in enumerate(lines, start=2):
            text = strip_line_end(raw_line)
            if text == b"":
                blank_line_numbers.append(line_number)  # ignored if only blank lines follow
                continue
            for blank_line_number in blank_line_numbers:
                yield row.read(blank_line_number, b"")
            blank_line_numbers.clear()
            yield row.read(line_number, text)


def credential_columns(path: Path) -> list[str]:
    """The credential columns in a table export's header (dropped from every row); [] when unreadable."""
    with path.open("rb") as lines:
        header = decode_header(path.name, lines.readline())
    if isinstance(header, Rejection):
        return []
    return [column for column in map(encode_key, header) if is_credential_column(column)]


def iter_forum_documents(path: Path) -> Iterator[SourceDocument | Rejection]:
    """Stream a ``.mongo`` forum dump: one decoded document per line, or a Rejection naming the line.

    The file is read line by line in binary; blank lines are skipped; line numbers are 1-based.
    A document without ``_id`` gets ``"<file name>:<line>"``, so a reload gives it the same id.
    """
    file_name = path.name
    with path.open("rb") as lines:
        for line_number, raw_line in enumerate(lines, start=1):
            if not raw_line.strip():
                continue
            yield line_to_document(file_name, line_number, raw_line)


def _course_structure_records(package_file: PackageFile) -> Iterator[SourceDocument | Rejection]:
    import orjson

    source = package_file.path.name
    try:
        raw = orjson.loads(package_file.path.read_bytes())  # one JSON document: parsed whole
    except orjson.JSONDecodeError as error:
        yield Rejection(source, None, "unreadable course structure", detail=str(error), whole_file=True)
        return
    if not isinstance(raw, dict):
        detail = f"{type(raw).__name__}, not an object"
        yield Rejection(source, None, "unreadable course structure", detail=detail, whole_file=True)
        return
    result = flatten_course_structure(raw, source=source)
    yield from result.rejections
    for block in result.blocks:
        yield SourceDocument(None, block)


def records_for(package_file: PackageFile) -> tuple[str, Iterator[SourceDocument | Rejection]] | None:
    """The target collection and a fresh stream of documents and rejections for one file; None when skipped."""
    if package_file.kind == FORUM_FILE:
        return FORUM_COLLECTION, iter_forum_documents(package_file.path)
    if package_file.kind == COURSE_STRUCTURE_FILE:
        return COURSE_STRUCTURE_COLLECTION, _course_structure_records(package_file)
    collection = collection_for_table(package_file.table or "")
    if collection is None:
        return None
    return collection, iter_table_documents(package_file.path, package_file.table or "")
