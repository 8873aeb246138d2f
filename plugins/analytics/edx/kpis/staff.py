"""Who is course staff, and why: the usernames whose events the course KPIs leave out by default.

A username is excluded, under each reason that applies (:class:`StaffRule` turns each off):

- ``auth_user is_staff`` / ``auth_user is_superuser``: the flag is true in the ``user`` table;
- ``instructor pages``: an event from the instructor dashboard: an ``edx.instructor.*`` event
  type, or a URL path (the ``event_type`` of a server event, ``context.path``, the ``page`` or
  ``referer`` URL) under ``/courses/<course id>/instructor`` (also ``instructor_dashboard`` and
  ``legacy_instructor_dash``), which edX serves to course staff only;
- ``studio``: an event of Studio, the authoring site: its ``host``, or the host of its ``page``
  or ``referer`` URL, is a Studio host (``studio_hosts``: an entry ending in ``.`` matches as a
  prefix, ``studio.`` matching ``studio.edx.org``; any other entry, such as ``localhost:8001``,
  matches exactly), or one of those paths is one of Studio's own pages (``studio_paths``:
  ``/course/``, ``/container/``, ``/preview/xblock/``, ``/transcripts/``, ``/settings/``, ...;
  ``/xblock/`` only in Studio's forms: ``/xblock/`` itself, ``/xblock/container/...`` and
  ``/xblock/<key>/<view>`` for a Studio view such as ``studio_view``: the LMS serves a bare
  ``/xblock/<key>`` to the mobile apps, so that one is not evidence);
- ``course role``: a forum event's ``event.user_course_roles`` holds one of ``course_roles``
  (``instructor``, ``staff``);
- ``listed``: the username is in ``always_exclude``; one in ``never_exclude`` is never excluded.

Studio's events name no course (``context.course_id`` is ``""``), so they are not in a course's
``<course db>.tracking``: for the ``studio`` reason to see them the caller feeds
:class:`StaffDetector` the studio events of the master collection as well (a Studio user then
counts as staff of every course). The detector keeps only the usernames it excludes, with the
first piece of evidence of each reason. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import urlsplit

from analytics.edx.kpis import event_payload, username_of

IS_STAFF, IS_SUPERUSER, INSTRUCTOR_PAGES, STUDIO, COURSE_ROLE, LISTED = (
    "auth_user is_staff",
    "auth_user is_superuser",
    "instructor pages",
    "studio",
    "course role",
    "listed",
)
REASONS = (IS_STAFF, IS_SUPERUSER, INSTRUCTOR_PAGES, STUDIO, COURSE_ROLE, LISTED)
INSTRUCTOR_EVENT_PREFIX = "edx.instructor."
_INSTRUCTOR_PATH = re.compile(
    r"/courses/(?:(?:course-v1|ccx-v1):[^/?#]+|[^/?#:]+/[^/?#]+/[^/?#]+)"
    r"/(?:instructor|instructor_dashboard|legacy_instructor_dash)(?:[/?#]|$)"
)
DEFAULT_STUDIO_HOSTS = ("studio.",)
DEFAULT_STUDIO_PATHS = (
    "/course/",
    "/container/",
    "/preview/xblock/",
    "/transcripts/",
    "/settings/",
    "/course_info/",
    "/course_info_update/",
    "/assets/",
    "/import/",
    "/export/",
    "/textbooks/",
    "/tabs/",
    "/course_team/",
    "/group_configurations/",
    "/checklists/",
    "/videos/",
    "/library/",
    "/course_rerun/",
)
STUDIO_XBLOCK_PREFIX = "/xblock/"
STUDIO_XBLOCK_VIEWS = (
    "studio_view",
    "author_view",
    "container_preview",
    "reorderable_container_child_preview",
    "visibility_view",
)
DEFAULT_COURSE_ROLES = ("instructor", "staff")
EVIDENCE_CHARS = 200
_TRUE = (True, 1, "1", "true", "True")


@dataclass(frozen=True)
class StaffRule:
    """Which evidence excludes a username (all of it by default)."""

    staff_flags: bool = True  # auth_user is_staff / is_superuser
    instructor_pages: bool = True
    studio: bool = True
    course_roles: tuple[str, ...] = DEFAULT_COURSE_ROLES  # () turns the course role reason off
    studio_hosts: tuple[str, ...] = DEFAULT_STUDIO_HOSTS
    studio_paths: tuple[str, ...] = DEFAULT_STUDIO_PATHS
    always_exclude: tuple[str, ...] = ()
    never_exclude: tuple[str, ...] = ()

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> StaffRule:
        """The rule from a param or config mapping (lists become tuples); an unknown key raises ``ValueError``."""
        values = dict(values or {})
        known = {option.name for option in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown staff rule option(s) {unknown}: expected some of {sorted(known)}")
        options: dict[str, Any] = {}
        for name, value in values.items():
            default = getattr(cls, name)
            if isinstance(default, bool):
                if not isinstance(value, bool):
                    raise ValueError(f"staff rule option {name} must be true or false, not {value!r}")
                options[name] = value
            else:
                if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
                    raise ValueError(f"staff rule option {name} must be a list of strings, not {value!r}")
                options[name] = tuple(value)
        return cls(**options)


class StaffDetector:
    """The usernames excluded as staff, from the ``user`` table's flags and from events (:meth:`add`)."""

    def __init__(self, rule: StaffRule | None = None, users: Iterable[Mapping[str, Any]] = ()) -> None:
        self.rule = rule or StaffRule()
        self._never = frozenset(self.rule.never_exclude)
        self._evidence: dict[str, dict[str, str]] = {}  # username -> reason -> first evidence
        for username in self.rule.always_exclude:
            self._exclude(username, LISTED, "always_exclude")
        if self.rule.staff_flags:
            for user in users:
                username = username_of(user)
                if user.get("is_staff") in _TRUE:
                    self._exclude(username, IS_STAFF, "is_staff")
                if user.get("is_superuser") in _TRUE:
                    self._exclude(username, IS_SUPERUSER, "is_superuser")

    def add(self, event: Mapping[str, Any]) -> None:
        """Look at one event of any learner, in any order."""
        username = username_of(event)
        if not username or username in self._never:
            return
        for reason, evidence in staff_evidence(event, self.rule):
            self._exclude(username, reason, evidence)

    def is_staff(self, username: str) -> bool:
        return username in self._evidence

    def excluded(self) -> dict[str, list[str]]:
        """Username -> its reasons (in :data:`REASONS` order), by username."""
        return {
            username: [reason for reason in REASONS if reason in reasons]
            for username, reasons in sorted(self._evidence.items())
        }

    def evidence(self, username: str) -> dict[str, str]:
        """The first evidence of each reason for one excluded username (a flag name, a path, an event type)."""
        return dict(self._evidence.get(username, {}))

    def summary(self) -> dict[str, Any]:
        """``{excluded: n, by_reason: {reason: n}}``: what a task reports (a username counts under each of its reasons)."""
        by_reason = Counter(reason for reasons in self._evidence.values() for reason in reasons)
        return {
            "excluded": len(self._evidence),
            "by_reason": {reason: by_reason[reason] for reason in REASONS},
        }

    def _exclude(self, username: str, reason: str, evidence: str) -> None:
        if username and username not in self._never:
            self._evidence.setdefault(username, {}).setdefault(reason, evidence[:EVIDENCE_CHARS])


def staff_evidence(event: Mapping[str, Any], rule: StaffRule) -> list[tuple[str, str]]:
    """``(reason, evidence)`` for each event-level reason that one event shows (none for a learner's event)."""
    found: list[tuple[str, str]] = []
    event_type = event.get("event_type") if isinstance(event.get("event_type"), str) else ""
    paths = list(_request_paths(event, event_type))
    urls = [url for url in (event.get("page"), event.get("referer")) if isinstance(url, str) and url]
    if rule.instructor_pages:
        evidence = _instructor_evidence(event_type, paths, urls)
        if evidence:
            found.append((INSTRUCTOR_PAGES, evidence))
    if rule.studio:
        evidence = _studio_evidence(event, paths, urls, rule)
        if evidence:
            found.append((STUDIO, evidence))
    if rule.course_roles:
        roles = event_payload(event).get("user_course_roles")
        if isinstance(roles, list) and any(
            role in rule.course_roles for role in roles if isinstance(role, str)
        ):
            found.append((COURSE_ROLE, f"user_course_roles {roles} in {event_type}"))
    return found


def _request_paths(event: Mapping[str, Any], event_type: str) -> Iterator[str]:
    """The request paths a server event names: its ``event_type`` when a path, and ``context.path``."""
    if event_type.startswith("/"):
        yield event_type
    context = event.get("context")
    path = context.get("path") if isinstance(context, Mapping) else None
    if isinstance(path, str) and path.startswith("/") and path != event_type:
        yield path


def _instructor_evidence(event_type: str, paths: list[str], urls: list[str]) -> str | None:
    if event_type.startswith(INSTRUCTOR_EVENT_PREFIX):
        return event_type
    for text in (*paths, *urls):
        if _INSTRUCTOR_PATH.search(text):
            return text
    return None


def _studio_evidence(
    event: Mapping[str, Any], paths: list[str], urls: list[str], rule: StaffRule
) -> str | None:
    host = event.get("host")
    if isinstance(host, str) and _is_studio_host(host, rule.studio_hosts):
        return f"host {host}"
    url_paths = []
    for url in urls:
        try:
            parts = urlsplit(url)
        except ValueError:
            continue
        if parts.netloc and _is_studio_host(parts.netloc, rule.studio_hosts):
            return url
        url_paths.append((parts.path, url))
    for path, shown in [(path, path) for path in paths] + url_paths:
        if is_studio_path(path, rule.studio_paths):
            return shown
    return None


def _is_studio_host(host: str, studio_hosts: tuple[str, ...]) -> bool:
    host = host.lower()
    return any(host.startswith(entry) if entry.endswith(".") else host == entry for entry in studio_hosts)


def is_studio_path(path: str, studio_paths: tuple[str, ...] = DEFAULT_STUDIO_PATHS) -> bool:
    """Whether a URL path is one of Studio's pages (see the module's docstring for ``/xblock/``)."""
    if path.startswith(studio_paths):
        return True
    if not path.startswith(STUDIO_XBLOCK_PREFIX):
        return False
    rest = path[len(STUDIO_XBLOCK_PREFIX) :].rstrip("/")
    return (
        not rest
        or rest.startswith("container/")
        or rest.endswith(tuple(f"/{view}" for view in STUDIO_XBLOCK_VIEWS))
    )
