"""The edX research data package of the demo data (``package/``), one set of files per course, named
as edX names them: each table as MySQL-escaped TSV, the course_structure JSON (block key ->
category, children, metadata) and the forum as a mongoexport dump (extended JSON, oldest post
first). ``write_course_package`` writes them and returns their part of the course's manifest
entry (files, rows, blocks, documents)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from pathlib import Path

import orjson

from .clock import mongo_date
from .edx_tables import course_tables, write_tsv
from .progress import Progress, relative
from .world_model import SITE, Block, Course, DemoWorld, ForumPost


def write_course_structure(path: Path, course: Course) -> Counter[str]:
    """edX's course_structure file: block key -> category, children keys and metadata."""
    structure: dict[str, dict[str, object]] = {}
    categories: Counter[str] = Counter()

    def add(block: Block) -> None:
        structure[block.key] = {
            "category": block.category,
            "children": [child.key for child in block.children],
            "metadata": {name: value for name, value in block.metadata.items() if value is not None},
        }
        categories[block.category] += 1
        for child in block.children:
            add(child)

    add(course.root)
    path.write_text(json.dumps(structure, indent=2) + "\n", encoding="utf-8")
    return categories


def forum_document(post: ForumPost, last_activity: dict[str, datetime]) -> dict[str, object]:
    """A post as mongoexport writes it (extended JSON: $oid ids, $date dates)."""
    assert post.created is not None
    document: dict[str, object] = {
        "_id": {"$oid": post.object_id},
        "_type": "CommentThread" if post.kind == "thread" else "Comment",
        "abuse_flaggers": [],
        "anonymous": False,
        "anonymous_to_peers": False,
        "at_position_list": [],
        "author_id": str(post.author.user_id),
        "author_username": post.author.username,
        "body": post.body,
        "course_id": post.course.course_id,
        "created_at": mongo_date(post.created),
        "historical_abuse_flaggers": [],
        "updated_at": mongo_date(post.created),
        "visible": True,
        "votes": {"count": 0, "down": [], "down_count": 0, "point": 0, "up": [], "up_count": 0},
    }
    if post.kind == "thread":
        document.update(
            closed=False,
            comment_count=post.replies,
            commentable_id=post.commentable_id,
            context="course",
            last_activity_at=mongo_date(last_activity[post.object_id]),
            pinned=False,
            thread_type="discussion",
            title=post.title,
        )
    else:
        assert post.thread is not None
        document.update(comment_thread_id={"$oid": post.thread.object_id}, endorsed=False)
        if post.parent is not None:
            document.update(
                parent_id={"$oid": post.parent.object_id}, parent_ids=[{"$oid": post.parent.object_id}]
            )
            document["sk"] = f"{post.parent.object_id}-{post.object_id}"
        else:
            document.update(parent_ids=[], sk=post.object_id)
    return document


def write_forum_dump(path: Path, posts: list[ForumPost]) -> Counter[str]:
    """The course's forum as a mongoexport dump, oldest post first."""
    dated = [(post.created, post) for post in posts if post.created is not None]
    last_activity: dict[str, datetime] = {}
    for created, post in dated:
        thread = post if post.thread is None else post.thread
        last_activity[thread.object_id] = max(created, last_activity.get(thread.object_id, created))
    with path.open("wb") as dump:
        for _, post in sorted(dated, key=lambda pair: (pair[0], pair[1].object_id)):
            dump.write(orjson.dumps(forum_document(post, last_activity), option=orjson.OPT_SORT_KEYS) + b"\n")
    return Counter(post.kind for post in posts)


def write_course_package(world: DemoWorld, course: Course, progress: Progress) -> dict[str, object]:
    """All package files of one course; returns the package's part of the course's manifest entry."""
    out = world.options.out
    package = out / "package"
    table_entries = {}
    for table, rows in course_tables(world, course).items():
        path = package / f"{course.file_prefix}-{table}-{SITE}-analytics.sql"
        table_entries[table] = {"file": relative(path, out), "rows": write_tsv(path, table, rows)}
        progress.wrote(path, f"{len(rows)} rows")
    structure_path = package / f"{course.file_prefix}-course_structure-{SITE}-analytics.json"
    categories = write_course_structure(structure_path, course)
    progress.wrote(structure_path, f"{sum(categories.values())} blocks")
    forum_path = package / f"{course.file_prefix}-{SITE}.mongo"
    posts = [post for post in world.forum_posts if post.course is course]
    kinds = write_forum_dump(forum_path, posts)
    progress.wrote(forum_path, f"{len(posts)} documents")
    enrollments = world.enrollments_in(course)
    return {
        "tables": table_entries,
        "course_structure": {
            "file": relative(structure_path, out),
            "blocks": sum(categories.values()),
            "blocks_by_category": dict(sorted(categories.items())),
        },
        "forum": {
            "file": relative(forum_path, out),
            "documents": len(posts),
            "threads": kinds["thread"],
            "responses": kinds["response"],
            "comments": kinds["comment"],
            "posts_with_tracking_event": sum(1 for post in posts if post.day is not None),
        },
        "enrollments_with_activation_event": sum(
            1 for enrollment in enrollments if enrollment.activation_day is not None
        ),
        "enrollments_with_deactivation_event": sum(
            1 for enrollment in enrollments if enrollment.deactivation_day is not None
        ),
    }
