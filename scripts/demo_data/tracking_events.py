"""The tracking-event factory of the edX demo logs: it builds one event at a time, either the next
step of a learner's session (page views, sequence navigation, the video player's state machine,
problem checks in their browser and server halves, open assessments, events whose course shows
only in the URL, dashboard views) or a scheduled event that matches a package row (enrollment
changes, forum posts). Each event comes with its kind (``source:event_type``) for the manifest."""

from __future__ import annotations

import json
import random
from datetime import timedelta
from urllib.parse import quote

from .clock import video_clock, video_position
from .courses import problem_answer
from .randomness import random_hex
from .tracking_formats import (
    SERVER_EMPTY_REQUEST,
    Event,
    browser_event,
    compact_json,
    mobile_event,
    open_assessment_grade,
    open_assessment_submission,
    problem_check_details,
    server_event,
)
from .tracking_sessions import Session, VideoState
from .world_model import BASE_URL, DemoWorld, ForumPost, ScheduledEvent


class EventFactory:
    """Builds one tracking event at a time, in the shapes of edX's browser, server and mobile events."""

    def __init__(self, world: DemoWorld, rng: random.Random, day: int) -> None:
        self.world = world
        self.rng = rng
        self.org = world.options.org
        self.day_prefix = (world.options.start_date + timedelta(days=day)).isoformat() + "T"

    # -- learner activity --------------------------------------------------------------------

    def activity_event(self, session: Session, microseconds: int, time_text: str) -> tuple[str, Event]:
        """The session's next event and its kind (for the manifest)."""
        if session.source == "mobile":
            return self.video_event(session, microseconds, time_text)
        if session.pending_problem is not None:
            return "server:problem_check", self.problem_check_server(session, time_text)
        draw = self.rng.random()
        if draw < 0.20:
            return self.page_view(session, time_text)
        if draw < 0.32:
            return self.sequence_navigation(session, time_text)
        if draw < 0.75:
            return self.video_event(session, microseconds, time_text)
        if draw < 0.87:
            return self.problem_check_browser(session, time_text)
        if draw < 0.91:
            return self.open_assessment(session, time_text)
        if draw < 0.97:
            return self.event_with_course_only_in_url(session, time_text)
        return "server:page_view_without_course", self.dashboard_view(session, time_text)

    def page_view(self, session: Session, time_text: str) -> tuple[str, Event]:
        referer = session.page.url
        course = session.enrollment.course
        draw = self.rng.random()
        if draw < 0.75:
            session.go_to(self.rng.choice(course.pages))
            path = session.page.path
        else:
            path = f"/courses/{course.course_id}/{'progress' if draw < 0.85 else 'course/'}"
        event = server_event(
            self.org, session.enrollment.user, course, path, SERVER_EMPTY_REQUEST, time_text, path, referer
        )
        return "server:page_view", event

    def sequence_navigation(self, session: Session, time_text: str) -> tuple[str, Event]:
        page = session.page
        siblings = session.enrollment.course.pages_of(page.sequential)
        if page.position < page.tab_count and self.rng.random() < 0.6:
            event_type, name, target = "seq_next", "edx.ui.lms.sequence.next_selected", page.position + 1
        elif page.position > 1 and self.rng.random() < 0.5:
            event_type, name, target = "seq_prev", "edx.ui.lms.sequence.previous_selected", page.position - 1
        else:
            event_type, name, target = (
                "seq_goto",
                "edx.ui.lms.sequence.tab_selected",
                self.rng.randint(1, page.tab_count),
            )
        details = {
            "widget_placement": "top",
            "tab_count": page.tab_count,
            "current_tab": page.position,
            "target_tab": target,
            "new": target,
            "old": page.position,
            "id": page.sequential.key,
        }
        event = browser_event(self.org, session, event_type, compact_json(details), time_text, name)
        session.go_to(siblings[target - 1])
        return f"browser:{event_type}", event

    def video_event(self, session: Session, microseconds: int, time_text: str) -> tuple[str, Event]:
        """The next step of the video state machine: load, play, pause, seek, stop."""
        video = session.video
        if video is None or video.status == "stopped":
            videos = [leaf for leaf in session.page.leaves if leaf.category == "video"]
            if not videos:
                session.go_to(self.rng.choice(session.enrollment.course.leaves("video"))[1])
                videos = [leaf for leaf in session.page.leaves if leaf.category == "video"]
            session.video = video = VideoState(self.rng.choice(videos), updated_at=microseconds)
            return self.video_record(session, "load_video", {}, time_text)
        if video.status == "playing":
            video.position = min(
                video.position + (microseconds - video.updated_at) / 1_000_000, video.block.duration_seconds
            )
        video.updated_at = microseconds
        if video.status == "playing" and video.position >= video.block.duration_seconds:
            video.status = "stopped"
            return self.video_record(
                session, "stop_video", {"currentTime": video.block.duration_seconds}, time_text
            )
        draw = self.rng.random()
        if draw < 0.06 and session.source == "browser":
            return "server:save_user_state", self.save_video_position(session, time_text)
        if draw < 0.3:
            old_time = video_position(video.position)
            video.position = video_position(self.rng.uniform(0, video.block.duration_seconds * 0.95))
            seek = {"old_time": old_time, "new_time": video.position, "type": "onSlideSeek"}
            return self.video_record(session, "seek_video", seek, time_text)
        if video.status == "playing":
            video.status = "paused"
            return self.video_record(
                session, "pause_video", {"currentTime": video_position(video.position)}, time_text
            )
        video.status = "playing"
        return self.video_record(
            session, "play_video", {"currentTime": video_position(video.position)}, time_text
        )

    def video_record(
        self, session: Session, event_type: str, positions: dict[str, object], time_text: str
    ) -> tuple[str, Event]:
        assert session.video is not None
        block = session.video.block
        if session.source == "mobile":
            details: dict[str, object] = {"code": "mobile", "id": block.key, **positions}
            return f"mobile:{event_type}", mobile_event(self.org, session, event_type, details, time_text)
        details = {
            "id": block.block_id,
            **positions,
            "code": block.youtube_id,
            "duration": block.duration_seconds,
        }
        return f"browser:{event_type}", browser_event(
            self.org, session, event_type, compact_json(details), time_text
        )

    def save_video_position(self, session: Session, time_text: str) -> Event:
        assert session.video is not None
        course = session.enrollment.course
        path = f"/courses/{course.course_id}/xblock/{session.video.block.key}/handler/xmodule_handler/save_user_state"
        request = json.dumps(
            {"POST": {"saved_video_position": [video_clock(session.video.position)]}, "GET": {}}
        )
        return server_event(
            self.org, session.enrollment.user, course, path, request, time_text, path, session.page.url
        )

    def problem_check_browser(self, session: Session, time_text: str) -> tuple[str, Event]:
        problems = [leaf for leaf in session.page.leaves if leaf.category == "problem"]
        if not problems:
            session.go_to(self.rng.choice(session.enrollment.course.leaves("problem"))[1])
            problems = [leaf for leaf in session.page.leaves if leaf.category == "problem"]
        problem = self.rng.choice(problems)
        answer, answer_text = problem_answer(self.rng, problem)
        input_name = f"input_{problem.block_id}_2_1"
        values = answer if isinstance(answer, list) else [answer]
        suffix = "%5B%5D" if isinstance(answer, list) else ""
        query = "&".join(f"{input_name}{suffix}={quote(str(value), safe='')}" for value in values)
        session.pending_problem = (problem, answer, answer_text)
        return "browser:problem_check", browser_event(
            self.org, session, "problem_check", json.dumps(query), time_text
        )

    def problem_check_server(self, session: Session, time_text: str) -> Event:
        assert session.pending_problem is not None
        problem, answer, answer_text = session.pending_problem
        session.pending_problem = None
        course = session.enrollment.course
        details = problem_check_details(
            problem, answer, answer_text, self.rng.random() < 0.6, self.rng.randint(1, 3)
        )
        path = f"/courses/{course.course_id}/xblock/{problem.key}/handler/xmodule_handler/problem_check"
        module = {"usage_key": problem.key, "display_name": problem.display_name}
        return server_event(
            self.org,
            session.enrollment.user,
            course,
            "problem_check",
            details,
            time_text,
            path,
            session.page.url,
            more_context={"asides": {}, "module": module},
            page="x_module",
        )

    def open_assessment(self, session: Session, time_text: str) -> tuple[str, Event]:
        """openassessmentblock.* events; their nested keys contain dots and begin with '$'."""
        course = session.enrollment.course
        block, page = course.leaves("openassessment")[0]
        if session.page is not page:
            session.go_to(page)
        draw = self.rng.random()
        if draw < 0.4:
            event_type, handler = "openassessmentblock.create_submission", "submit"
            details = open_assessment_submission(self.rng, time_text)
        else:
            handler = "peer_assess" if draw < 0.8 else "self_assess"
            event_type = f"openassessmentblock.{handler}"
            details = open_assessment_grade(self.rng, time_text, "PE" if handler == "peer_assess" else "SE")
        path = f"/courses/{course.course_id}/xblock/{block.key}/handler/{handler}"
        module = {"usage_key": block.key, "display_name": block.display_name}
        event = server_event(
            self.org,
            session.enrollment.user,
            course,
            event_type,
            details,
            time_text,
            path,
            page.url,
            more_context={"module": module},
            page="x_module",
            session=session.session_key,
            name=event_type,
        )
        return f"server:{event_type}", event

    def event_with_course_only_in_url(self, session: Session, time_text: str) -> tuple[str, Event]:
        """Events whose context has an empty course_id; the course shows only in page/referer."""
        if self.rng.random() < 0.5:
            return "browser:page_close", browser_event(
                self.org, session, "page_close", "", time_text, course_known=False
            )
        details = {
            "list_type": "all_courses",
            "bookmarks_count": self.rng.randint(0, 12),
            "page_size": 10,
            "page_number": 1,
        }
        event = server_event(
            self.org,
            session.enrollment.user,
            None,
            "edx.bookmark.listed",
            details,
            time_text,
            "/api/bookmarks/v1/bookmarks/",
            session.page.url,
            session=session.session_key,
            name="edx.bookmark.listed",
        )
        return "server:edx.bookmark.listed", event

    def dashboard_view(self, session: Session, time_text: str) -> Event:
        user = session.enrollment.user
        return server_event(
            self.org, user, None, "/dashboard", SERVER_EMPTY_REQUEST, time_text, "/dashboard", f"{BASE_URL}/"
        )

    # -- scheduled events --------------------------------------------------------------------

    def scheduled_event(self, scheduled: ScheduledEvent, time_text: str) -> tuple[str, Event]:
        if scheduled.enrollment is not None:
            return self.enrollment_event(scheduled, time_text)
        assert scheduled.post is not None
        return self.forum_event(scheduled.post, time_text)

    def enrollment_event(self, scheduled: ScheduledEvent, time_text: str) -> tuple[str, Event]:
        enrollment = scheduled.enrollment
        assert enrollment is not None
        course, user = enrollment.course, enrollment.user
        event_type = f"edx.course.enrollment.{'activated' if scheduled.kind == 'enrollment_activated' else 'deactivated'}"
        details = {"course_id": course.course_id, "user_id": user.user_id, "mode": enrollment.mode}
        event = server_event(
            self.org,
            user,
            course,
            event_type,
            details,
            time_text,
            "/change_enrollment",
            course.about_url,
            session=random_hex(self.rng),
            name=event_type,
        )
        return f"server:{event_type}", event

    def forum_event(self, post: ForumPost, time_text: str) -> tuple[str, Event]:
        course = post.course
        thread = post if post.kind == "thread" else post.thread
        assert thread is not None
        thread_url = f"{BASE_URL}/courses/{course.course_id}/discussion/forum/{post.commentable_id}/threads/{thread.object_id}"
        details: dict[str, object] = {
            "body": post.body,
            "truncated": False,
            "url": thread_url,
            "options": {"followed": post.kind == "thread"},
            "user_course_roles": [],
            "user_forums_roles": ["Student"],
            "id": post.object_id,
            "commentable_id": post.commentable_id,
            "category_id": post.commentable_id,
            "category_name": self.category_name(thread),
        }
        if post.kind == "thread":
            path = f"/courses/{course.course_id}/discussion/{post.commentable_id}/threads/create"
            details.update(
                title=post.title,
                thread_type="discussion",
                anonymous=False,
                anonymous_to_peers=False,
                group_id=None,
            )
        elif post.kind == "response":
            path = f"/courses/{course.course_id}/discussion/threads/{thread.object_id}/reply"
            details["discussion"] = {"id": thread.object_id}
        else:
            assert post.parent is not None
            path = f"/courses/{course.course_id}/discussion/comments/{post.parent.object_id}/reply"
            details.update(discussion={"id": thread.object_id}, response={"id": post.parent.object_id})
        event_type = f"edx.forum.{post.kind}.created"
        event = server_event(
            self.org,
            post.author,
            course,
            event_type,
            details,
            time_text,
            path,
            thread_url,
            session=random_hex(self.rng),
            name=event_type,
        )
        return f"server:{event_type}", event

    @staticmethod
    def category_name(thread: ForumPost) -> str:
        if thread.discussion is None:
            return "General"
        return f"{thread.discussion[1].chapter.display_name} / {thread.discussion[1].sequential.display_name}"
