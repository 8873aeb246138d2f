"""Course configs: one JSON file per course saying which course ids and which days of tracking events are its own.

A config (McGillX's edx_data_research shape) holds ``edx_id`` (a short name), ``edx_course_name``,
``course_ids`` (every run of the course, ``course-v1:ORG+COURSE+RUN``, old ``ORG/COURSE/RUN`` or
``ccx-v1:...``) and ``date_of_course_enrollment`` / ``date_of_course_completion`` (``YYYY-MM-DD``,
both days included). :func:`parse_course_config` reads one through the shared loader and refuses
anything incomplete, mistyped or still holding the template's placeholders, naming the file and
the field; :func:`list_course_configs` lists a folder of them, optionally only some courses, and
refuses two configs for one course or one database. The course database is the one
``edx_course_ingestion`` writes (``course_database_name`` of the first course id).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from analytics.core.config import ConfigError, config_path, load_json_config, require
from analytics.edx.naming import CourseKey, course_database_name, parse_course_key

COURSE_CONFIG_DIR = config_path("courses")
FIELDS = (
    "edx_id",
    "edx_course_name",
    "course_ids",
    "date_of_course_enrollment",
    "date_of_course_completion",
)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TEMPLATE_DATE = "YYYY-MM-DD"


@dataclass(frozen=True)
class CourseConfig:
    """One course: its ids, its period (both days included) and the file it was read from."""

    path: Path
    edx_id: str
    edx_course_name: str
    course_ids: tuple[str, ...]
    date_of_course_enrollment: date
    date_of_course_completion: date

    def window(self) -> tuple[datetime, datetime]:
        """``[enrollment day 00:00 UTC, the day after completion 00:00 UTC)``: the completion day is included whole."""
        start = datetime.combine(self.date_of_course_enrollment, time(0), tzinfo=UTC)
        end = datetime.combine(self.date_of_course_completion + timedelta(days=1), time(0), tzinfo=UTC)
        return start, end

    def course_id_forms(self) -> tuple[str, ...]:
        """Every form in which tracking events name these courses: as written, ``course-v1:`` and ``ORG/COURSE/RUN``.

        A CCX id (``ccx-v1:...+ccx@3``) is its own course run: only the id as written, never its
        parent course's forms (which would pull the parent's events in).
        """
        forms: dict[str, None] = {}
        for course_id in self.course_ids:
            forms[course_id] = None
            if course_id.startswith("ccx-v1:"):
                continue
            key = parse_course_key(course_id)
            forms[key.course_id] = None
            forms[f"{key.org}/{key.course}/{key.run}"] = None
        return tuple(forms)

    @property
    def course_key(self) -> CourseKey:
        """The course of the first course id, which names the database."""
        return parse_course_key(self.course_ids[0])

    @property
    def database_name(self) -> str:
        """The course's MongoDB database, the one ``edx_course_ingestion`` fills (``course_database_name``)."""
        return course_database_name(self.course_key)


def parse_course_config(path: Path | str) -> CourseConfig:
    """The course config in ``path``; ConfigError naming the file and the field when it cannot be used."""
    path = Path(path)
    raw = load_json_config(path)
    unknown = sorted(set(raw) - set(FIELDS))
    if unknown:
        raise ConfigError(
            path, f"unknown field(s) {', '.join(map(repr, unknown))}; expected {', '.join(FIELDS)}"
        )
    edx_id = _text(require(raw, "edx_id", str, path), "edx_id", path)
    edx_course_name = _text(require(raw, "edx_course_name", str, path), "edx_course_name", path)
    course_ids = _course_ids(require(raw, "course_ids", list, path), path)
    enrollment = _date(raw, "date_of_course_enrollment", path)
    completion = _date(raw, "date_of_course_completion", path)
    if completion < enrollment:
        raise ConfigError(
            path,
            f"the course completes ({completion}) before enrollment opens ({enrollment})",
            "date_of_course_completion",
        )
    return CourseConfig(
        path=path,
        edx_id=edx_id,
        edx_course_name=edx_course_name,
        course_ids=course_ids,
        date_of_course_enrollment=enrollment,
        date_of_course_completion=completion,
    )


def list_course_configs(directory: Path | str, courses: Sequence[str] = ()) -> list[Path]:
    """The ``*.json`` course configs in ``directory``, sorted; only those whose ``edx_id`` is in ``courses`` when given.

    With no ``courses``, every file is listed, also one that cannot be parsed: its own task
    then fails with the reason, and the others run. Selecting by ``edx_id`` reads only that field,
    so another file's errors do not stop the selection; an ``edx_id`` that no file has is an error
    (naming the files that could not be read, in case it is in one of them). Two listed configs
    with the same ``edx_id``, or whose courses share a database, are refused: their extractions
    would overwrite each other's events and status.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"course config directory {directory} does not exist")
    paths = sorted(directory.glob("*.json"))
    unreadable: dict[Path, str] = {}
    edx_ids: dict[Path, str] = {}
    for path in paths:
        try:
            edx_ids[path] = _text(require(load_json_config(path), "edx_id", str, path), "edx_id", path)
        except ConfigError as error:
            unreadable[path] = str(error)
    if courses:
        wanted = set(courses)
        missing = sorted(wanted - set(edx_ids.values()))
        if missing:
            message = f"{directory}: no course config has edx_id {', '.join(map(repr, missing))}"
            message += f" (configs found: {', '.join(sorted(set(edx_ids.values()))) or 'none'}"
            if unreadable:
                message += f"; could not read the edx_id of: {'; '.join(unreadable.values())}"
            raise ValueError(message + ")")
        paths = [path for path in paths if edx_ids.get(path) in wanted]
    _check_distinct_courses(paths, edx_ids)
    return paths


def _check_distinct_courses(paths: Sequence[Path], edx_ids: dict[Path, str]) -> None:
    """Raise ValueError when two configs share an ``edx_id`` or a database (names compared ignoring case)."""
    clashes: list[str] = []
    first_with_id: dict[str, Path] = {}
    first_with_database: dict[str, tuple[Path, str]] = {}
    for path in paths:
        edx_id = edx_ids.get(path)
        if edx_id is not None:
            first = first_with_id.setdefault(edx_id, path)
            if first != path:
                clashes.append(f"{first.name} and {path.name} have the same edx_id {edx_id!r}")
        try:
            database = parse_course_config(path).database_name
        except ConfigError:
            continue  # the file's own task reports it
        first_path, first_database = first_with_database.setdefault(database.casefold(), (path, database))
        if first_path != path:
            clashes.append(
                f"{first_path.name} and {path.name} write the same database "
                f"({first_database!r} and {database!r}; MongoDB compares names ignoring case)"
            )
    if clashes:
        raise ValueError("course configs that would overwrite each other: " + "; ".join(clashes))


def _text(value: str, key: str, path: Path) -> str:
    """``value`` when it is a real text: not empty (the template's ``""``), no spaces around it."""
    if not value.strip():
        raise ConfigError(path, "empty (the template's placeholder?)", key)
    if value != value.strip():
        raise ConfigError(path, f"{value!r} has leading or trailing spaces", key)
    return value


def _date(raw: dict[str, Any], key: str, path: Path) -> date:
    value = _text(require(raw, key, str, path), key, path)
    if value == _TEMPLATE_DATE:
        raise ConfigError(path, f"still the template's placeholder {value!r}: give a date YYYY-MM-DD", key)
    try:
        if not _DATE.fullmatch(value):
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise ConfigError(path, f"expected a date YYYY-MM-DD, got {value!r}", key) from None


def _course_ids(values: list[Any], path: Path) -> tuple[str, ...]:
    key = "course_ids"
    if not values:
        raise ConfigError(
            path, "empty: list at least one course id (course-v1:ORG+COURSE+RUN or ORG/COURSE/RUN)", key
        )
    course_ids: list[str] = []
    for position, value in enumerate(values):
        where = f"{key}[{position}]"
        if not isinstance(value, str):
            raise ConfigError(path, f"expected a course id string, got {value!r}", where)
        course_id = _text(value, where, path)
        if course_id.startswith("block-v1:"):
            raise ConfigError(path, f"{course_id!r} is a block key, not a course id", where)
        try:
            parse_course_key(course_id)
        except ValueError as error:
            raise ConfigError(path, str(error), where) from None
        if course_id in course_ids:
            raise ConfigError(path, f"{course_id!r} is listed twice", where)
        course_ids.append(course_id)
    return tuple(course_ids)
