"""Course keys in every id form, and the one rule that names a course's MongoDB database."""

from __future__ import annotations

import pytest

from analytics.edx.naming import (
    MAX_DATABASE_NAME_BYTES,
    CourseKey,
    check_distinct_database_names,
    course_database_name,
    parse_course_key,
)

DEMO = CourseKey(org="edX", course="DemoX", run="Demo_Course")
DEMO_ID_FORMS = [
    "course-v1:edX+DemoX+Demo_Course",
    "ccx-v1:edX+DemoX+Demo_Course+ccx@3",
    "edX/DemoX/Demo_Course",
    "block-v1:edX+DemoX+Demo_Course+type@problem+block@5b60fa3470a2440eafeee24d6806eb1a",
    "block-v1:edX+DemoX+Demo_Course",  # as it appears in the sample's courseware_studentmodule.module_id
    "  course-v1:edX+DemoX+Demo_Course\n",
]
FORBIDDEN_DATABASE_CHARACTERS = '/\\. "$*<>:|?\x00'


@pytest.mark.parametrize("text", DEMO_ID_FORMS)
def test_every_id_form_parses_to_the_same_course(text: str) -> None:
    assert parse_course_key(text) == DEMO


def test_course_key_renders_course_id_and_package_key() -> None:
    assert DEMO.course_id == "course-v1:edX+DemoX+Demo_Course"
    assert DEMO.package_key == "edX-DemoX-Demo_Course"
    assert str(DEMO) == DEMO.course_id


def test_course_id_round_trips_through_the_parser() -> None:
    key = CourseKey(org="MITx", course="6.00.1x", run="2T2017")
    assert parse_course_key(key.course_id) == key


@pytest.mark.parametrize(
    "text",
    [
        "",
        "DemoX",
        "edX+DemoX+Demo_Course",
        "course-v1:edX+DemoX",
        "course-v1:edX+DemoX+Demo_Course+extra",
        "course-v1:edX++Demo_Course",
        "edX/DemoX",
        "edX/DemoX/Demo_Course/extra",
        "edX//Demo_Course",
        "edX/Demo X/Demo_Course",
        "library-v1:edX+DemoLib",
        "http://example.com/course",
    ],
)
def test_text_that_is_no_course_key_is_refused_clearly(text: str) -> None:
    with pytest.raises(ValueError, match="not a course key"):
        parse_course_key(text)


@pytest.mark.parametrize("text", DEMO_ID_FORMS)
def test_every_id_form_gets_the_same_readable_database_name(text: str) -> None:
    assert course_database_name(text) == "edX_DemoX_Demo_Course"


def test_course_key_and_its_id_get_the_same_database_name() -> None:
    assert course_database_name(DEMO) == course_database_name(DEMO.course_id)


def test_dots_in_a_course_number_become_underscores() -> None:
    assert course_database_name("MITx/6.002x/2012_Fall") == "MITx_6_002x_2012_Fall"


@pytest.mark.parametrize("character", list(FORBIDDEN_DATABASE_CHARACTERS))
def test_characters_mongodb_forbids_are_replaced(character: str) -> None:
    name = course_database_name(CourseKey(org="Org", course=f"A{character}B", run="Run"))
    assert name == "Org_A_B_Run"


def test_a_name_of_exactly_63_bytes_is_kept_readable() -> None:
    course = CourseKey(org="Org", course="C" * (MAX_DATABASE_NAME_BYTES - len("Org__Run")), run="Run")
    name = course_database_name(course)
    assert len(name.encode("utf-8")) == MAX_DATABASE_NAME_BYTES
    assert name == f"Org_{course.course}_Run"


def test_a_too_long_name_is_truncated_with_a_stable_hash() -> None:
    course = CourseKey(org="LongUniversityX", course="IntroductionToEverything" * 3, run="3T2024")
    name = course_database_name(course)
    assert len(name.encode("utf-8")) <= MAX_DATABASE_NAME_BYTES
    assert name.startswith("LongUniversityX_IntroductionToEverything")
    # Pinned literally: the same on every Python run and machine (no salted hash()).
    assert name == "LongUniversityX_IntroductionToEverythingIntroduction_9b768336c0"


def test_two_long_ids_with_the_same_prefix_get_different_names() -> None:
    shared = "VeryLongCourseNumberThatGoesOnAndOnForeverAndEver"
    first = course_database_name(CourseKey(org="UniversityX", course=shared, run="1T2024"))
    second = course_database_name(CourseKey(org="UniversityX", course=shared, run="2T2024"))
    assert first != second
    assert first[:40] == second[:40]
    assert all(len(name.encode("utf-8")) <= MAX_DATABASE_NAME_BYTES for name in (first, second))


def test_truncation_never_splits_a_multibyte_character() -> None:
    course = CourseKey(org="UniversitéX", course="é" * 40, run="2024")
    name = course_database_name(course)
    assert len(name.encode("utf-8")) <= MAX_DATABASE_NAME_BYTES
    assert "\ufffd" not in name
    assert name.startswith("UniversitéX_éé")


def test_long_names_have_no_forbidden_characters() -> None:
    course = CourseKey(org="Org.X", course="Part.Of.A.Very.Long.Course.Number" * 2, run="Run:1")
    name = course_database_name(course)
    assert len(name.encode("utf-8")) <= MAX_DATABASE_NAME_BYTES
    assert not set(name) & set(FORBIDDEN_DATABASE_CHARACTERS)


def test_courses_with_distinct_database_names_pass_the_check() -> None:
    demo = CourseKey("edX", "DemoX", "Demo_Course")
    check_distinct_database_names([demo, demo, CourseKey("MITx", "6.002x", "2012_Fall")])


@pytest.mark.parametrize(
    "other",
    [
        CourseKey("MITx", "6_002x", "2012_Fall"),  # the same name once "." is replaced
        CourseKey("mitx", "6.002X", "2012_fall"),  # names equal ignoring case
    ],
)
def test_courses_whose_database_names_collide_are_refused_naming_both(other: CourseKey) -> None:
    course = CourseKey("MITx", "6.002x", "2012_Fall")
    with pytest.raises(ValueError, match="collide") as raised:
        check_distinct_database_names([course, other])
    assert course.course_id in str(raised.value) and other.course_id in str(raised.value)
