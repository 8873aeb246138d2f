"""Reading a data-package directory: which files it holds, for which course (the I/O of discovery).

:func:`discover_package` lists a package folder and its direct sub-folders, names each file with
the grammar of :mod:`analytics.edx.package`, keeps one file per course and table (site ``prod``
first), and lists the others as ignored with the reason. Where a file-name prefix is ambiguous
(more than three hyphen-separated parts: an org such as ``UC-BerkeleyX``), the course is read
from the files' contents (:func:`course_key_from_contents`), one record each.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import Path

from analytics.edx.naming import CourseKey, check_distinct_database_names, parse_course_key
from analytics.edx.package import (
    FORUM_FILE,
    TABLE_FILE,
    CoursePackage,
    PackageFile,
    PackageInventory,
    duplicate_reason,
    file_identity,
    kept_files,
    parse_package_file_name,
    unrecognised_name_reason,
)


def discover_package(directory: Path, known_courses: Collection[CourseKey] = ()) -> PackageInventory:
    """Inventory of a package directory and of its direct sub-directories (one per course, if any).

    A file-name prefix with more than three hyphen-separated parts is ambiguous (an org with a
    hyphen, ``UC-BerkeleyX-CS169-2012_Fall``, reads as org ``UC``): the course is then taken from
    the contents of the prefix's files (see :func:`course_key_from_contents`) when one of them
    names a course whose package key is that prefix, so every file of one course, and the
    tracking events that name it, map to one database.

    When several files hold the same course, kind and table (other sites, or with and without the
    ``-analytics`` suffix), one is kept so no table is loaded twice: the one from site ``prod``,
    else the first in path order. The others are listed in ``ignored`` with the choice made.
    Raises ValueError when two courses would share a MongoDB database (see
    ``check_distinct_database_names``).
    """
    if not directory.is_dir():
        raise FileNotFoundError(f"data-package directory not found: {directory}")
    known_courses = [*known_courses, *_courses_named_in_contents(directory, known_courses)]
    inventory = PackageInventory()
    entries: list[tuple[str, PackageFile | str]] = []  # (relative name, parsed file or reason to ignore)
    for path, reason in _candidate_files(directory):
        relative_name = path.relative_to(directory).as_posix()
        package_file = None if reason else parse_package_file_name(path, known_courses)
        entries.append((relative_name, package_file or reason or unrecognised_name_reason(path.name)))
    kept = kept_files([(name, entry) for name, entry in entries if isinstance(entry, PackageFile)])
    files_by_course: dict[CourseKey, list[PackageFile]] = {}
    for relative_name, entry in entries:
        if not isinstance(entry, PackageFile):
            inventory.ignored.append((relative_name, entry))
            continue
        kept_name, kept_file = kept[file_identity(entry)]
        if kept_file is not entry:
            inventory.ignored.append((relative_name, duplicate_reason(kept_name, kept_file, entry)))
            continue
        files_by_course.setdefault(entry.course, []).append(entry)
    check_distinct_database_names(files_by_course.keys())
    for course in sorted(files_by_course, key=lambda key: key.course_id):
        files = sorted(files_by_course[course], key=lambda package_file: package_file.path.name)
        inventory.courses.append(CoursePackage(course=course, files=files))
    return inventory


def _courses_named_in_contents(directory: Path, known_courses: Collection[CourseKey]) -> list[CourseKey]:
    """Courses read from the files of every ambiguous name prefix (more than three parts), once per prefix."""
    files_by_prefix: dict[str, list[PackageFile]] = {}
    for path, reason in _candidate_files(directory):
        package_file = None if reason else parse_package_file_name(path, known_courses)
        if package_file is not None and package_file.course not in known_courses:
            prefix = package_file.course.package_key
            if len(prefix.split("-")) > 3:
                files_by_prefix.setdefault(prefix, []).append(package_file)
    found = []
    for prefix, files in sorted(files_by_prefix.items()):
        for package_file in sorted(files, key=lambda f: f.path.name):
            course = course_key_from_contents(package_file)
            if course is not None and course.package_key == prefix:
                found.append(course)
                break
    return found


def course_key_from_contents(package_file: PackageFile) -> CourseKey | None:
    """The course a file's first record names, or None: a table's ``course_id`` column (first data
    row), a course structure's first block key, a forum document's ``course_id``. Reads one record.
    """
    try:
        with package_file.path.open("rb") as handle:
            if package_file.kind == TABLE_FILE:
                return _course_in_table(handle)
            if package_file.kind == FORUM_FILE:
                return _course_in_forum(handle.readline())
            return _course_in_structure(handle.read(_STRUCTURE_PEEK_BYTES))
    except (OSError, UnicodeDecodeError, ValueError):
        return None


_STRUCTURE_PEEK_BYTES = 64 * 1024
_BLOCK_KEY = re.compile(rb'"(block-v1:[^"+]+\+[^"+]+\+[^"+]+)\+type@')


def _course_in_table(handle) -> CourseKey | None:
    header = handle.readline().decode("utf-8-sig").rstrip("\r\n").split("\t")
    if "course_id" not in header:
        return None
    row = handle.readline().decode("utf-8").rstrip("\r\n").split("\t")
    if len(row) != len(header):
        return None
    return parse_course_key(row[header.index("course_id")])


def _course_in_forum(line: bytes) -> CourseKey | None:
    import orjson

    document = orjson.loads(line) if line.strip() else None
    course_id = document.get("course_id") if isinstance(document, dict) else None
    return parse_course_key(course_id) if isinstance(course_id, str) else None


def _course_in_structure(head: bytes) -> CourseKey | None:
    match = _BLOCK_KEY.search(head)
    return parse_course_key(match[1].decode("utf-8")) if match else None


def _candidate_files(directory: Path) -> list[tuple[Path, str]]:
    """Every entry of the directory and of its sub-directories, sorted, with a reason to skip or ''."""
    candidates: list[tuple[Path, str]] = []
    for entry in sorted(directory.iterdir()):
        if entry.name.startswith("."):
            candidates.append((entry, "hidden file"))
        elif entry.is_dir():
            for inner in sorted(entry.iterdir()):
                candidates.append((inner, _skip_reason_below_top_level(inner)))
        else:
            candidates.append((entry, ""))
    return sorted(candidates, key=lambda candidate: candidate[0].relative_to(directory).as_posix())


def _skip_reason_below_top_level(path: Path) -> str:
    if path.name.startswith("."):
        return "hidden file"
    if path.is_dir():
        return "directory two levels down (not searched)"
    return ""
