"""The file-name grammar of an edX research data package (pure: names in, parts out, no I/O).

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
table, structure or forum comes from several sites (``prod`` is kept when present). Reading a
package directory is :mod:`analytics.edx.discovery`'s job.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from analytics.edx.naming import CourseKey

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


def file_identity(package_file: PackageFile) -> tuple[CourseKey, str, str | None]:
    """What a file holds: two files with the same identity are copies of one table from different sites."""
    return package_file.course, package_file.kind, package_file.table


def kept_files(
    named_files: list[tuple[str, PackageFile]],
) -> dict[tuple[CourseKey, str, str | None], tuple[str, PackageFile]]:
    """Identity -> the (relative name, file) kept: site ``prod`` first, then the first name in path order."""
    kept: dict[tuple[CourseKey, str, str | None], tuple[str, PackageFile]] = {}
    for name, package_file in sorted(named_files, key=_preference):
        kept.setdefault(file_identity(package_file), (name, package_file))
    return kept


def _preference(named_file: tuple[str, PackageFile]) -> tuple[bool, str]:
    """Sort key: files of the preferred site first, then by relative name."""
    name, package_file = named_file
    return package_file.site != PREFERRED_SITE, name


def duplicate_reason(kept_name: str, kept_file: PackageFile, ignored_file: PackageFile) -> str:
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


def unrecognised_name_reason(name: str) -> str:
    if name.endswith(".tar.gz") and ".xml" in name:
        return "course export archive (not ingested)"
    if not any(name.endswith(extension) for extension in _FORMS):
        return "not a .sql, .json or .mongo file"
    return "name fits no data-package form"
