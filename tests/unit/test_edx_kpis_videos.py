"""Video viewings: every dropping rule, segment boundaries, durations, users at start and end, shares, and the
real ``video_timeline.log`` of edx-analytics-pipeline, whose ``#`` comments say what to expect."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import pytest

from analytics.edx.kpis.videos import (
    DURATION_FROM_COURSE_STRUCTURE,
    DURATION_FROM_EVENTS,
    DURATION_FROM_POSITIONS,
    ENDS_BEFORE_START,
    NO_VIDEO_ID,
    OUTSIDE_VIEWING,
    PLAY_THEN_PLAY,
    PLAY_WITHOUT_END,
    POSITION_MISSING,
    POSITION_NEGATIVE,
    POSITION_NOT_A_NUMBER,
    POSITION_NOT_FINITE,
    POSITION_TOO_LARGE,
    TOO_SHORT,
    VideoViewings,
    covered_length,
    end_segment,
    position,
    segment_of,
    video_viewings,
)
from analytics.edx.tracking_lines import parse_tracking_line
from tests.samples import edx_sample

VIDEO = "a1b2c3"
START = datetime(2024, 3, 4, 10, 0, tzinfo=UTC)
TIMELINE_LOG = "edx-analytics-pipeline/tracking_logs/video_timeline.log"


class Clock:
    """Event times one second apart, in the order the events are written."""

    def __init__(self) -> None:
        self.seconds = 0

    def __call__(self) -> datetime:
        self.seconds += 1
        return START + timedelta(seconds=self.seconds)


def video_event(clock, event_type, username="ada", video=VIDEO, source="browser", block=None, **positions):
    payload = {"id": video, "code": "yt-code", **positions}
    event = {
        "username": username,
        "time": clock(),
        "event_type": event_type,
        "event_source": source,
        "event": payload,
    }
    if block is not None:
        event["block"] = block
    return event


def play(clock, at, **fields):
    return video_event(clock, "play_video", currentTime=at, **fields)


def pause(clock, at, **fields):
    return video_event(clock, "pause_video", currentTime=at, **fields)


def stop(clock, at, **fields):
    return video_event(clock, "stop_video", currentTime=at, **fields)


def seek(clock, old, new, **fields):
    return video_event(clock, "seek_video", old_time=old, new_time=new, **fields)


def run(events, durations=None) -> VideoViewings:
    return video_viewings(sorted(events, key=lambda event: (event["username"], event["time"])), durations)


def segments(viewings: VideoViewings, video: str = VIDEO) -> dict[int, tuple[int, int]]:
    """segment -> (num_users, num_views)."""
    return {
        row["segment"]: (row["num_users"], row["num_views"])
        for row in viewings.segment_rows()
        if row["video_id"] == video
    }


def video_row(viewings: VideoViewings, video: str = VIDEO) -> dict:
    (row,) = [row for row in viewings.video_rows() if row["video_id"] == video]
    return row


def test_a_play_and_a_pause_make_one_viewing_over_the_segments_it_touches():
    clock = Clock()
    viewings = run([play(clock, 0), pause(clock, 12.5)])
    # 0 -> 12.5: segments floor(0/5) = 0 to floor(12.5/5) = 2
    assert segments(viewings) == {0: (1, 1), 1: (1, 1), 2: (1, 1)}
    row = video_row(viewings)
    assert row["total_viewed_seconds"] == 15  # 3 views x 5 s
    assert (row["unique_viewers"], row["viewings"], row["users_at_start"]) == (1, 1, 1)
    assert viewings.viewings == 1 and not viewings.drops


@pytest.mark.parametrize(
    ("start", "end", "covered"),
    [
        (0, 4.99, [0]),  # 4.99 / 5 = 0.998: still segment 0
        (0, 5.0, [0, 1]),  # 5.0 / 5 = 1: the end touches segment 1
        (4.99, 9.99, [0, 1]),
        (5.0, 9.99, [1]),  # a start at 5.0 is in segment 1 only
        (4.75, 5.0, [0, 1]),  # exactly 0.25 s long: kept
    ],
)
def test_segment_boundaries(start, end, covered):
    clock = Clock()
    assert list(segments(run([play(clock, start), pause(clock, end)]))) == covered


def test_segment_of_floors_positions():
    assert [segment_of(value) for value in (0, 4.99, 5.0, 5.01, 9.999, 10)] == [0, 0, 1, 1, 1, 2]


def test_a_viewing_shorter_than_a_quarter_second_is_dropped():
    clock = Clock()
    viewings = run([play(clock, 10), pause(clock, 10.2499), play(clock, 20), pause(clock, 20.25)])
    # 10.2499 - 10 = 0.2499 s < 0.25: dropped; 20.25 - 20 = 0.25 s: kept (segment 4)
    assert viewings.drops == {TOO_SHORT: 1}
    assert segments(viewings) == {4: (1, 1)}


def test_a_viewing_that_ends_where_it_starts_is_too_short():
    clock = Clock()
    assert run([play(clock, 7), pause(clock, 7)]).drops == {TOO_SHORT: 1}  # 0 s < 0.25 s


def test_a_viewing_that_ends_before_it_starts_is_dropped():
    clock = Clock()
    viewings = run([play(clock, 20), pause(clock, 10)])
    assert viewings.drops == {ENDS_BEFORE_START: 1}
    assert viewings.segment_rows() == []
    assert video_row(viewings)["unique_viewers"] == 0  # the video is seen, with no viewer


def test_a_play_followed_by_another_play_has_no_end_and_is_dropped():
    clock = Clock()
    viewings = run([play(clock, 0), play(clock, 30), pause(clock, 40)])
    # the first play (0) never ends: dropped; the second is 30 -> 40, segments 6..8
    assert viewings.drops == {PLAY_THEN_PLAY: 1}
    assert segments(viewings) == {6: (1, 1), 7: (1, 1), 8: (1, 1)}


def test_a_play_with_nothing_after_it_is_dropped_when_the_learner_ends():
    clock = Clock()
    viewings = run([play(clock, 0), pause(clock, 10), play(clock, 10)])
    assert viewings.drops == {PLAY_WITHOUT_END: 1}
    assert segments(viewings) == {0: (1, 1), 1: (1, 1), 2: (1, 1)}  # 0 -> 10 only


def test_a_stop_ends_a_viewing_at_its_current_time():
    clock = Clock()
    assert segments(run([play(clock, 100), stop(clock, 104)])) == {20: (1, 1)}  # 100 -> 104: segment 20


def test_a_pause_stop_or_seek_outside_a_viewing_ends_nothing():
    clock = Clock()
    viewings = run([pause(clock, 5), stop(clock, 5), seek(clock, 5, 9)])
    assert viewings.drops == {OUTSIDE_VIEWING: 3}
    assert viewings.segment_rows() == []


def test_a_seek_ends_a_viewing_at_its_old_time_and_the_next_play_starts_at_its_new_time():
    clock = Clock()
    viewings = run([play(clock, 0), seek(clock, 10, 30), play(clock, 10), pause(clock, 40)])
    # viewing 1: 0 -> 10 (the seek's old_time): segments 0..2
    # viewing 2: the play says 10 (the stale position before the seek), the seek before it says 30:
    #   30 -> 40, segments 6..8 (with the play's 10 it would have been 10 -> 40, segments 2..8)
    assert segments(viewings) == {0: (1, 1), 1: (1, 1), 2: (1, 1), 6: (1, 1), 7: (1, 1), 8: (1, 1)}


def test_a_seek_while_paused_also_sets_where_the_next_play_starts():
    clock = Clock()
    viewings = run([play(clock, 0), pause(clock, 5), seek(clock, 5, 50), play(clock, 49), pause(clock, 55)])
    # 0 -> 5 (segments 0, 1); the seek outside a viewing ends nothing but is just before the play:
    # 50 -> 55 (segments 10, 11), not 49 -> 55
    assert viewings.drops == {OUTSIDE_VIEWING: 1}
    assert list(segments(viewings)) == [0, 1, 10, 11]


def test_only_a_seek_just_before_the_play_counts():
    clock = Clock()
    viewings = run([seek(clock, 0, 50), pause(clock, 50), play(clock, 60), pause(clock, 65)])
    # the pause comes between the seek and the play: the play's own 60 -> 65 (segments 12, 13)
    assert list(segments(viewings)) == [12, 13]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, POSITION_MISSING),
        ("abc", POSITION_NOT_A_NUMBER),
        ("", POSITION_NOT_A_NUMBER),
        (True, POSITION_NOT_A_NUMBER),
        ([3], POSITION_NOT_A_NUMBER),
        ({"seconds": 3}, POSITION_NOT_A_NUMBER),
        (math.nan, POSITION_NOT_FINITE),
        (math.inf, POSITION_NOT_FINITE),
        (-math.inf, POSITION_NOT_FINITE),
        ("nan", POSITION_NOT_FINITE),
        (-0.001, POSITION_NEGATIVE),
        (36000.001, POSITION_TOO_LARGE),  # 10 h = 36000 s
        (36000, 36000.0),  # exactly 10 h is kept
        (0, 0.0),
        ("12.5", 12.5),  # a numeric string is read, as the pipeline's float() reads it
        (7, 7.0),
    ],
)
def test_positions(value, expected):
    assert position(value) == expected


def test_an_event_with_an_unusable_position_is_dropped_and_takes_no_part():
    clock = Clock()
    events = [
        play(clock, 0),
        pause(clock, math.nan),  # dropped: the viewing stays open
        video_event(clock, "pause_video"),  # no currentTime: dropped (the pipeline took 0)
        seek(clock, 3, -1),  # a negative new_time: the whole seek is dropped
        seek(clock, "x", 4),  # an old_time that is not a number: dropped
        stop(clock, 40000),  # over 10 hours: dropped
        pause(clock, 10),  # ends the viewing: 0 -> 10
    ]
    viewings = run(events)
    assert viewings.drops == {
        POSITION_NOT_FINITE: 1,
        POSITION_MISSING: 1,
        POSITION_NEGATIVE: 1,
        POSITION_NOT_A_NUMBER: 1,
        POSITION_TOO_LARGE: 1,
    }
    assert segments(viewings) == {0: (1, 1), 1: (1, 1), 2: (1, 1)}
    # dropped positions are not "seen" either: the furthest kept position is 10
    assert video_row(viewings)["duration"] == 10.0


def test_a_play_without_a_usable_position_starts_nothing():
    clock = Clock()
    viewings = run([play(clock, None), pause(clock, 10)])
    assert viewings.drops == {POSITION_MISSING: 1, OUTSIDE_VIEWING: 1}


def test_an_event_without_a_video_id_is_dropped_and_ids_are_stripped():
    clock = Clock()
    viewings = run([play(clock, 0, video=""), play(clock, 0, video="\n" + VIDEO), pause(clock, 5)])
    assert viewings.drops == {NO_VIDEO_ID: 1}
    assert segments(viewings) == {0: (1, 1), 1: (1, 1)}


def test_an_old_log_event_as_a_json_string_is_read():
    clock = Clock()
    first, second = play(clock, 0), pause(clock, 6)
    first["event"] = json.dumps(first["event"])
    second["event"] = json.dumps(second["event"])
    assert segments(run([first, second])) == {0: (1, 1), 1: (1, 1)}


def test_each_video_has_its_own_viewing_state():
    clock = Clock()
    viewings = run([play(clock, 0, video="one"), play(clock, 50, video="two"), pause(clock, 6, video="one")])
    # "two" opening does not end "one": one is 0 -> 6; two has no end
    assert segments(viewings, "one") == {0: (1, 1), 1: (1, 1)}
    assert viewings.drops == {PLAY_WITHOUT_END: 1}


def test_users_and_views_per_segment_and_unique_viewers():
    clock = Clock()
    events = [
        play(clock, 0, username="ada"),
        pause(clock, 7, username="ada"),  # ada: 0 -> 7, segments 0, 1
        play(clock, 2, username="ada"),
        pause(clock, 4, username="ada"),  # ada again: 2 -> 4, segment 0
        play(clock, 3, username="bob"),
        pause(clock, 12, username="bob"),  # bob: 3 -> 12, segments 0..2
    ]
    viewings = run(events)
    # segment 0: ada twice and bob: 2 users, 3 views; segment 1: ada, bob; segment 2: bob
    assert segments(viewings) == {0: (2, 3), 1: (2, 2), 2: (1, 1)}
    row = video_row(viewings)
    assert (row["unique_viewers"], row["viewings"]) == (2, 3)
    assert row["total_viewed_seconds"] == 30  # (3 + 2 + 1) views x 5 s


def test_the_duration_is_the_events_then_the_course_structures_then_the_furthest_position():
    clock = Clock()
    block = {
        "id": "block-v1:X+Y+Z+type@video+block@v",
        "block_id": "v",
        "category": "video",
        "display_name": "Intro",
    }
    with_duration = [play(clock, 0, duration=120, block=block), pause(clock, 10, duration=125)]
    viewings = run(with_duration, durations={"v": 300})
    row = video_row(viewings)
    # the largest event duration (125) wins over the course structure's 300
    assert (row["duration"], row["duration_source"]) == (125.0, DURATION_FROM_EVENTS)
    assert (row["block_id"], row["display_name"]) == ("v", "Intro")

    clock = Clock()
    without = [play(clock, 0, block=block), pause(clock, 10)]
    # no event duration: the caller's, by block id
    assert video_row(run(without, durations={"v": 300}))["duration_source"] == DURATION_FROM_COURSE_STRUCTURE
    assert video_row(run(without, durations={"v": 300}))["duration"] == 300.0
    # ... or by the id as the events give it
    assert video_row(run(without, durations={VIDEO: 200}))["duration"] == 200.0
    # neither: the furthest position seen, 10
    assert video_row(run(without))["duration"] == 10.0
    assert video_row(run(without))["duration_source"] == DURATION_FROM_POSITIONS


@pytest.mark.parametrize("duration", [0, -5, math.nan, "long", None])
def test_an_unusable_event_duration_is_ignored(duration):
    clock = Clock()
    row = video_row(run([play(clock, 0, duration=duration), pause(clock, 10)]))
    assert (row["duration"], row["duration_source"]) == (10.0, DURATION_FROM_POSITIONS)


def test_the_end_segment_is_at_thirty_seconds_or_five_percent_before_the_end():
    # 100 s: max(100 - 30, 0.95 x 100) = max(70, 95) = 95 -> segment 19
    assert end_segment(100) == 19
    # 1000 s: max(970, 950) = 970 -> segment 194
    assert end_segment(1000) == 194
    # 24.9 s: max(-5.1, 23.655) = 23.655 -> segment 4
    assert end_segment(24.9) == 4


def test_users_at_start_and_users_at_end():
    clock = Clock()
    events = [
        play(clock, 0, username="ada", duration=100),
        pause(clock, 96, username="ada"),  # ada: segments 0..19 (96 / 5 = 19.2): reaches the end segment 19
        play(clock, 0, username="bob", duration=100),
        pause(clock, 94.9, username="bob"),  # bob: segments 0..18 (94.9 / 5 = 18.98): not the end
        play(clock, 50, username="cy", duration=100),
        pause(clock, 99, username="cy"),  # cy: segments 10..19: at the end, not at the start
    ]
    row = video_row(run(events))
    assert (row["users_at_start"], row["users_at_end"]) == (2, 2)  # start: ada, bob; end: ada, cy


def test_a_learners_share_is_the_union_of_their_viewings_over_the_duration():
    clock = Clock()
    course = VideoViewings()
    ada = course.learner("ada")
    for event in [
        play(clock, 0, duration=40),
        pause(clock, 10),  # 0 -> 10
        play(clock, 5),
        pause(clock, 20),  # 5 -> 20: overlaps 5 s with the first
    ]:
        ada.add(event)
    # union: 0 -> 20 = 20 s (not 10 + 15 = 25); share 20 / 40 = 0.5
    assert ada.finish() == [
        {
            "username": "ada",
            "video_id": VIDEO,
            "block_id": None,
            "viewings": 2,
            "covered_seconds": 20.0,
            "share": 0.5,
        }
    ]
    bob = course.learner("bob")
    for event in [play(clock, 0, username="bob"), pause(clock, 40, username="bob")]:
        bob.add(event)
    assert bob.finish()[0]["share"] == 1.0  # 40 / 40
    row = video_row(course)
    assert row["mean_share"] == 0.75  # (0.5 + 1.0) / 2
    assert row["share_histogram"] == [
        0,
        0,
        0,
        0,
        0,
        1,
        0,
        0,
        0,
        1,
    ]  # 0.5 in [0.5, 0.6), 1.0 in the last tenth


def test_a_share_is_at_most_one_and_unknown_until_a_duration_is_known():
    clock = Clock()
    course = VideoViewings()
    ada = course.learner("ada")
    for event in [play(clock, 0, duration=10), pause(clock, 12)]:  # a position past the event's duration
        ada.add(event)
    assert ada.finish()[0]["share"] == 1.0  # 12 / 10, capped at 1
    course = VideoViewings()
    bob = course.learner("bob")
    for event in [play(clock, 0, username="bob"), pause(clock, 12, username="bob")]:
        bob.add(event)
    # no event duration, none from the course structure: only the positions, final once all are read
    assert bob.finish()[0]["share"] is None
    assert video_row(course)["mean_share"] == 1.0  # 12 / 12 (furthest position) in the video's row


def test_covered_length_merges_overlaps():
    # [0, 10] + [5, 20] + [30, 31] + [31, 35]: 20 + 5 = 25
    assert covered_length([(30, 31), (0, 10), (31, 35), (5, 20)]) == 25
    assert covered_length([(0, 10), (2, 3)]) == 10  # one inside another
    assert covered_length([]) == 0


def test_a_learner_not_finished_is_not_counted():
    clock = Clock()
    course = VideoViewings()
    staff = course.learner("staff")
    for event in [play(clock, 0, username="staff"), pause(clock, 30, username="staff"), play(clock, 0)]:
        staff.add(event)
    # the engine leaves out a staff member by not calling finish(): nothing of theirs counts, drops neither
    assert course.video_rows() == [] and course.segment_rows() == [] and not course.drops


def test_the_id_is_kept_as_it_appears_with_the_matched_block_id():
    clock = Clock()
    block = {"id": "block-v1:X+Y+Z+type@video+block@v", "block_id": "v", "category": "video"}
    events = [
        play(clock, 0, video="v", block=block),
        pause(clock, 5, video="v", block=block),
        play(clock, 0, username="bob", video=block["id"], source="mobile", block=block),
        pause(clock, 5, username="bob", video=block["id"], source="mobile", block=block),
    ]
    rows = run(events).video_rows()
    # the browser's short id and the mobile app's full key are two rows, both with block_id "v"
    assert [(row["video_id"], row["block_id"]) for row in rows] == [(block["id"], "v"), ("v", "v")]


# --- the real log ---------------------------------------------------------------------------


def timeline_events() -> list[dict]:
    path = edx_sample(TIMELINE_LOG)
    loaded_at = datetime(2024, 1, 1, tzinfo=UTC)
    events = []
    for number, raw in enumerate(path.read_bytes().splitlines(), 1):
        document = parse_tracking_line(raw, "video_timeline.log", number, loaded_at)
        if isinstance(document, dict):  # comments and blank lines are rejections
            events.append(document)
    return events


def course_viewings(events, course_id: str, usernames=None) -> VideoViewings:
    """What the engine does per course: that course's events, read in (username, time) order."""
    selected = [
        event
        for event in events
        if event["course_id"] == course_id and (usernames is None or event["username"] in usernames)
    ]
    return run(selected)


def views_per_segment(viewings: VideoViewings, video: str) -> list[int]:
    found = segments(viewings, video)
    return [found.get(segment, (0, 0))[1] for segment in range(5)]


DEMO = "edX/DemoX/Demo_Course"
FIRST_VIDEO = "i4x-edX-DemoX-video-3cb54a11efae4ccc8a0aade24d14b255"
SECOND_VIDEO = "i4x-edX-DemoX-video-8c0028eb2a724f48a074bc184cd8635f"


def test_the_real_timeline_log_shows_what_its_comments_expect():
    events = timeline_events()
    assert len(events) == 18  # 29 lines: 7 comment lines and 4 blank ones are not events

    # "Seek backwards, seek forwards, pause in middle, pause at end. Expect to see five segments: 1,2,2,1,2"
    # user 1: play 0 -> seek(old 14.234121, new 7.345): 0 -> 14.23, segments 0..2
    #         play 7.345 -> seek(old 14.234121, new 17): 7.345 -> 14.23, segments 1..2
    #         play 14 (stale; the seek before it says 17) -> pause 21.4: 17 -> 21.4, segments 3..4
    #         play 21.4 -> pause 24.9: segment 4
    #   views: [1, 2, 2, 1, 2]; taking the play's 14 instead of the seek's 17 would give [1, 2, 3, 1, 2]
    one = course_viewings(events, DEMO, {"dummy_username_1"})
    assert views_per_segment(one, FIRST_VIDEO) == [1, 2, 2, 1, 2]

    # "Add a second user: (1,1,0,0,0)": play 0 -> pause 9.9, segments 0..1
    two = course_viewings(events, DEMO, {"dummy_username_1", "dummy_username_2"})
    assert views_per_segment(two, FIRST_VIDEO) == [2, 3, 2, 1, 2]  # [1, 2, 2, 1, 2] + [1, 1, 0, 0, 0]

    # "Add a third user: (0,0,0,1,1)": play 15.3 -> pause 24.9, segments 3..4
    everyone = course_viewings(events, DEMO)
    assert views_per_segment(everyone, FIRST_VIDEO) == [2, 3, 2, 2, 3]  # + [0, 0, 0, 1, 1]
    # users per segment: 0: users 1, 2; 1: 1, 2; 2: 1; 3: 1, 3; 4: 1, 3 (the pipeline's acceptance test agrees)
    assert segments(everyone, FIRST_VIDEO) == {0: (2, 2), 1: (2, 3), 2: (1, 2), 3: (2, 2), 4: (2, 3)}
    first = video_row(everyone, FIRST_VIDEO)
    # no duration in the events: the furthest position, 24.9 (the pipeline, which infers one from the
    # last viewed segment, says (4 + 1) x 5 - 1 = 24); end segment floor(max(-5.1, 23.655) / 5) = 4
    assert (first["duration"], first["duration_source"]) == (24.9, DURATION_FROM_POSITIONS)
    assert (first["users_at_start"], first["users_at_end"]) == (2, 2)
    assert first["total_viewed_seconds"] == 60  # (2 + 3 + 2 + 2 + 3) x 5, as in the pipeline's test
    assert (first["unique_viewers"], first["viewings"]) == (3, 6)

    # "Same course, but different module.": play 10 -> pause 20, segments 2..4 (20 / 5 = 4 exactly)
    assert segments(everyone, SECOND_VIDEO) == {2: (1, 1), 3: (1, 1), 4: (1, 1)}
    second = video_row(everyone, SECOND_VIDEO)
    # duration: furthest position 20 (the pipeline: 24); end segment floor(max(-10, 19) / 5) = 3: 1 user
    assert (second["duration"], second["users_at_start"], second["users_at_end"]) == (20.0, 0, 1)
    assert second["total_viewed_seconds"] == 15

    # "Different course.": play 0 -> stop 4, segment 0, in its own course
    other = course_viewings(events, "course-v1:edX+DemoX+Test_2014")
    assert segments(other, "0b9e39477cf34507a7a48f74be381fdd") == {0: (1, 1)}
    row = video_row(other, "0b9e39477cf34507a7a48f74be381fdd")
    assert (row["duration"], row["users_at_start"], row["users_at_end"], row["total_viewed_seconds"]) == (
        4.0,
        1,
        1,
        5,
    )

    # "events for video duration": the events say duration 444
    timed = course_viewings(events, "course-v1:edX+DemoX+Test_2015")
    row = video_row(timed, "0b9e39477cf34507a7a48f74be381fdd1")
    assert (row["duration"], row["duration_source"]) == (444.0, DURATION_FROM_EVENTS)
    # end segment floor(max(414, 421.8) / 5) = 84: nobody got there; 0 -> 4 covers 4 / 444 of it
    assert (row["users_at_start"], row["users_at_end"]) == (1, 0)
    assert row["mean_share"] == pytest.approx(4 / 444)

    for viewings in (everyone, other, timed):
        assert not viewings.drops  # every viewing of the log is a clean one
