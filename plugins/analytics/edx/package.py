"""The file-name grammar of an edX research data package, and the inventory of a package directory.

A data package holds, per course, MySQL table exports ``{org}-{course}-{run}-{table}-{site}.sql``,
a course structure ``{org}-{course}-{run}-course_structure-{site}.json`` and a forum dump
``{org}-{course}-{run}-{site}.mongo``; each name may end in ``-analytics`` before the extension,
and ``{site}`` is any word (``prod``, ``edge``, ``acceptance``, ...). Names are split on hyphens
from the right: an optional trailing ``analytics`` (dropped only when enough parts remain to make
it a suffix), then the site, then for ``.sql`` the lower-case table (for ``.json`` the literal
``course_structure``). What is left names the course. Site and table never contain hyphens, but
org, course and run rarely do; when more than three parts are left, a course from
``known_courses`` whose ``package_key`` matches wins, and otherwise the first part is the org, the
last is the run and the parts between, re-joined with hyphens, are the course number (edX orgs
and runs practically never contain hyphens, course numbers sometimes do). Every other file is
listed in the inventory's ``ignored`` with a reason, and so is every file but one when a course's
table, structure or forum comes from several sites (``prod`` is kept when present).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from analytics.edx.naming import CourseKey, check_distinct_database_names, parse_course_key

TABLE_FILE = "table"
COURSE_STRUCTURE_FILE = "course_structure"
FORUM_FILE = "forum"

PREFERRED_SITE = "prod"  # of several files for the same course and table, the one kept
_ANALYTICS_SUFFIX = "analytics"
_SITE = re.compile(r"[A-Za-z0-9_]+")
_TABLE = re.compile(r"[a-z][a-z0-9_]*")
_COURSE_PART = re.compile(r"[\w.~:%]+")
# Extension -> (kind, number of name parts between the course and the site).
_FORMS = {".sql": (TABLE_FILE, 1), ".json": (COURSE_STRUCTURE_FILE, 1), ".mongo": (FORUM_FILE, 0)}


@dataclass(frozen=True)
class PackageFile:
    """One data-package file whose name fits the grammar: which course, what it holds, from which site."""

    path: Path
    course: CourseKey
    kind: str  # TABLE_FILE | COURSE_STRUCTURE_FILE | FORUM_FILE
    table: str | None  # the MySQL table for TABLE_FILE, else None
    site: str


@dataclass
class CoursePackage:
    """All the files of one course in a package, sorted by file name."""

    course: CourseKey
    files: list[PackageFile] = field(default_factory=list)


@dataclass
class PackageInventory:
    """What a package directory holds: courses sorted by course id, and the files left out, with why."""

    courses: list[CoursePackage] = field(default_factory=list)
    ignored: list[tuple[str, str]] = field(default_factory=list)  # (file name, reason)


def parse_package_file_name(path: Path, known_courses: Collection[CourseKey] = ()) -> PackageFile | None:
    """The course, kind, table and site a file name encodes, or None when it fits no form."""
    name = path.name
    extension = next((extension for extension in _FORMS if name.endswith(extension)), None)
    if extension is None or name.startswith("."):
        return None
    kind, middle_part_count = _FORMS[extension]
    parts = name[: -len(extension)].split("-")
    minimum_part_count = 3 + middle_part_count + 1
    if len(parts) > minimum_part_count and parts[-1] == _ANALYTICS_SUFFIX:
        parts = parts[:-1]
    if len(parts) < minimum_part_count or not _SITE.fullmatch(parts[-1]):
        return None
    site, middle = parts[-1], parts[-1 - middle_part_count : -1]
    if kind == TABLE_FILE and not _TABLE.fullmatch(middle[0]):
        return None
    if kind == COURSE_STRUCTURE_FILE and middle != [COURSE_STRUCTURE_FILE]:
        return None
    course = _course_from_parts(parts[: -1 - middle_part_count], known_courses)
    if course is None:
        return None
    table = middle[0] if kind == TABLE_FILE else None
    return PackageFile(path=path, course=course, kind=kind, table=table, site=site)


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
        entries.append((relative_name, package_file or reason or _unrecognised_name_reason(path.name)))
    kept = _kept_files([(name, entry) for name, entry in entries if isinstance(entry, PackageFile)])
    files_by_course: dict[CourseKey, list[PackageFile]] = {}
    for relative_name, entry in entries:
        if not isinstance(entry, PackageFile):
            inventory.ignored.append((relative_name, entry))
            continue
        kept_name, kept_file = kept[_identity(entry)]
        if kept_file is not entry:
            inventory.ignored.append((relative_name, _duplicate_reason(kept_name, kept_file, entry)))
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


def _identity(package_file: PackageFile) -> tuple[CourseKey, str, str | None]:
    """What a file holds: two files with the same identity are copies of one table from different sites."""
    return package_file.course, package_file.kind, package_file.table


def _kept_files(
    named_files: list[tuple[str, PackageFile]],
) -> dict[tuple[CourseKey, str, str | None], tuple[str, PackageFile]]:
    """Identity -> the (relative name, file) kept: site ``prod`` first, then the first name in path order."""
    kept: dict[tuple[CourseKey, str, str | None], tuple[str, PackageFile]] = {}
    for name, package_file in sorted(named_files, key=_preference):
        kept.setdefault(_identity(package_file), (name, package_file))
    return kept


def _preference(named_file: tuple[str, PackageFile]) -> tuple[bool, str]:
    """Sort key: files of the preferred site first, then by relative name."""
    name, package_file = named_file
    return package_file.site != PREFERRED_SITE, name


def _duplicate_reason(kept_name: str, kept_file: PackageFile, ignored_file: PackageFile) -> str:
    if kept_file.site == PREFERRED_SITE and ignored_file.site != PREFERRED_SITE:
        why = f"site {PREFERRED_SITE} is preferred"
    else:
        why = "it comes first in path order"
    return f"duplicate of {kept_name}; kept {kept_name} because {why}"


def _course_from_parts(parts: list[str], known_courses: Collection[CourseKey]) -> CourseKey | None:
    """The course named by the hyphen-separated parts left of the table and site (see module docs)."""
    if len(parts) < 3 or not all(_COURSE_PART.fullmatch(part) for part in parts):
        return None
    package_key = "-".join(parts)
    for known in known_courses:
        if known.package_key == package_key:
            return known
    return CourseKey(org=parts[0], course="-".join(parts[1:-1]), run=parts[-1])


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


def _unrecognised_name_reason(name: str) -> str:
    if name.endswith(".tar.gz") and ".xml" in name:
        return "course export archive (not ingested)"
    if not any(name.endswith(extension) for extension in _FORMS):
        return "not a .sql, .json or .mongo file"
    return "name fits no data-package form"
