"""The data-package file-name grammar and the inventory of a package directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from analytics.edx.discovery import course_key_from_contents, discover_package
from analytics.edx.naming import CourseKey
from analytics.edx.package import (
    COURSE_STRUCTURE_FILE,
    FORUM_FILE,
    TABLE_FILE,
    PackageFile,
    parse_package_file_name,
)
from tests.samples import OBFUSCATION_STATE, edx_sample

DEMO = CourseKey(org="edX", course="DemoX", run="Demo_Course")


def obfuscation_state_directory() -> Path:
    """The real data-package sample."""
    return edx_sample(OBFUSCATION_STATE)


def parsed(name: str, known_courses: tuple[CourseKey, ...] = ()) -> PackageFile:
    package_file = parse_package_file_name(Path("/package") / name, known_courses)
    assert package_file is not None, name
    return package_file


@pytest.mark.parametrize(
    ("name", "kind", "table", "site"),
    [
        ("edX-DemoX-Demo_Course-auth_user-prod-analytics.sql", TABLE_FILE, "auth_user", "prod"),
        ("edX-DemoX-Demo_Course-auth_user-acceptance.sql", TABLE_FILE, "auth_user", "acceptance"),
        (
            "edX-DemoX-Demo_Course-courseware_studentmodule-edge-analytics.sql",
            TABLE_FILE,
            "courseware_studentmodule",
            "edge",
        ),
        ("edX-DemoX-Demo_Course-user_id_map-prod.sql", TABLE_FILE, "user_id_map", "prod"),
        ("edX-DemoX-Demo_Course-course_structure-prod-analytics.json", COURSE_STRUCTURE_FILE, None, "prod"),
        ("edX-DemoX-Demo_Course-course_structure-acceptance.json", COURSE_STRUCTURE_FILE, None, "acceptance"),
        ("edX-DemoX-Demo_Course-prod-analytics.mongo", FORUM_FILE, None, "prod"),
        ("edX-DemoX-Demo_Course-acceptance.mongo", FORUM_FILE, None, "acceptance"),
        ("edX-DemoX-Demo_Course-auth_user-Site_2-analytics.sql", TABLE_FILE, "auth_user", "Site_2"),
    ],
)
def test_every_file_name_form_is_recognised(name: str, kind: str, table: str | None, site: str) -> None:
    package_file = parsed(name)
    assert package_file == PackageFile(
        path=Path("/package") / name, course=DEMO, kind=kind, table=table, site=site
    )


@pytest.mark.parametrize(
    "name",
    [
        "README.md",
        "README",
        ".edX-DemoX-Demo_Course-auth_user-prod.sql",
        "edX-DemoX-Demo_Course-course-prod.xml.tar.gz",
        "edX-DemoX-Demo_Course-auth_user-prod.sql.gpg",
        "edX-DemoX-Demo_Course-Auth_User-prod.sql",  # tables are lower-case
        "edX-DemoX-Demo_Course-notes-prod.json",  # the only .json form is course_structure
        "edX-DemoX-auth_user-prod.sql",  # org, course and run need three parts
        "edX-DemoX-prod.mongo",
        "edX-DemoX-Demo_Course-auth_user-.sql",  # empty site
        "edX-Demo X-Demo_Course-auth_user-prod.sql",  # a space is no course-id character
    ],
)
def test_names_that_fit_no_form_give_none(name: str) -> None:
    assert parse_package_file_name(Path(name)) is None


def test_hyphenated_middle_parts_form_the_course_number_by_default() -> None:
    package_file = parsed("MITx-6.00-1x-2T2017-auth_user-prod-analytics.sql")
    assert package_file.course == CourseKey(org="MITx", course="6.00-1x", run="2T2017")
    assert (package_file.table, package_file.site) == ("auth_user", "prod")


def test_hyphenated_course_in_a_forum_dump_name() -> None:
    package_file = parsed("MITx-6.00-1x-2T2017-prod-analytics.mongo")
    assert package_file.course == CourseKey(org="MITx", course="6.00-1x", run="2T2017")
    assert package_file.site == "prod"


@pytest.mark.parametrize(
    "known",
    [
        CourseKey(org="MITx", course="6.00", run="1x-2T2017"),  # hyphen in the run
        CourseKey(org="MITx-6.00", course="1x", run="2T2017"),  # hyphen in the org
    ],
)
def test_a_known_course_resolves_the_hyphen_ambiguity(known: CourseKey) -> None:
    others = (CourseKey(org="edX", course="DemoX", run="Demo_Course"),)
    assert parsed("MITx-6.00-1x-2T2017-auth_user-prod.sql", others + (known,)).course == known


def test_a_known_course_that_does_not_match_leaves_the_default_rule() -> None:
    package_file = parsed("MITx-6.00-1x-2T2017-auth_user-prod.sql", (DEMO,))
    assert package_file.course == CourseKey(org="MITx", course="6.00-1x", run="2T2017")


def test_analytics_is_a_suffix_only_when_a_site_remains_before_it() -> None:
    assert parsed("edX-DemoX-Demo_Course-auth_user-analytics.sql").site == "analytics"
    assert parsed("edX-DemoX-Demo_Course-analytics.mongo").site == "analytics"
    suffixed = parsed("edX-DemoX-Demo_Course-prod-analytics.mongo")
    assert (suffixed.course, suffixed.site) == (DEMO, "prod")


def test_site_and_table_are_taken_from_the_right() -> None:
    package_file = parsed("edX-DemoX-Demo_Course-student_courseenrollment-acceptance-analytics.sql")
    assert (package_file.course, package_file.table, package_file.site) == (
        DEMO,
        "student_courseenrollment",
        "acceptance",
    )


def write_files(directory: Path, names: list[str]) -> None:
    for name in names:
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")


def test_inventory_groups_files_by_course_and_lists_ignored_files_with_reasons(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        [
            "edX-DemoX-Demo_Course-auth_user-prod-analytics.sql",
            "edX-DemoX-Demo_Course-prod-analytics.mongo",
            "edX-DemoX-Demo_Course-course_structure-prod-analytics.json",
            "MITx-6.002x-2012_Fall-auth_user-prod.sql",
            "edX-DemoX-Demo_Course-course-prod.xml.tar.gz",
            "README.txt",
            ".DS_Store",
            "edX-DemoX-Demo_Course-notes-prod.json",
        ],
    )
    inventory = discover_package(tmp_path)
    assert [package.course.course_id for package in inventory.courses] == [
        "course-v1:MITx+6.002x+2012_Fall",
        "course-v1:edX+DemoX+Demo_Course",
    ]
    demo_files = inventory.courses[1].files
    assert [(package_file.kind, package_file.table) for package_file in demo_files] == [
        (TABLE_FILE, "auth_user"),
        (COURSE_STRUCTURE_FILE, None),
        (FORUM_FILE, None),
    ]
    assert all(package_file.path.parent == tmp_path for package_file in demo_files)
    assert sorted(inventory.ignored) == [
        (".DS_Store", "hidden file"),
        ("README.txt", "not a .sql, .json or .mongo file"),
        ("edX-DemoX-Demo_Course-course-prod.xml.tar.gz", "course export archive (not ingested)"),
        ("edX-DemoX-Demo_Course-notes-prod.json", "name fits no data-package form"),
    ]


def test_inventory_looks_one_level_down_into_course_sub_directories(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        [
            "edX-DemoX-Demo_Course/edX-DemoX-Demo_Course-auth_user-prod.sql",
            "edX-DemoX-Demo_Course/edX-DemoX-Demo_Course-prod.mongo",
            "MITx-6.002x-2012_Fall/MITx-6.002x-2012_Fall-student_courseenrollment-prod.sql",
            "MITx-6.002x-2012_Fall/old/MITx-6.002x-2012_Fall-auth_user-prod.sql",
            "MITx-6.002x-2012_Fall/.hidden.sql",
            ".git/config",
        ],
    )
    inventory = discover_package(tmp_path)
    files_by_course = {
        package.course.package_key: sorted(package_file.path.name for package_file in package.files)
        for package in inventory.courses
    }
    assert files_by_course == {
        "MITx-6.002x-2012_Fall": ["MITx-6.002x-2012_Fall-student_courseenrollment-prod.sql"],
        "edX-DemoX-Demo_Course": [
            "edX-DemoX-Demo_Course-auth_user-prod.sql",
            "edX-DemoX-Demo_Course-prod.mongo",
        ],
    }
    assert sorted(inventory.ignored) == [
        (".git", "hidden file"),
        ("MITx-6.002x-2012_Fall/.hidden.sql", "hidden file"),
        ("MITx-6.002x-2012_Fall/old", "directory two levels down (not searched)"),
    ]


def test_of_several_sites_the_prod_file_is_kept_even_when_another_sorts_first(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        [
            "edX-DemoX-Demo_Course-auth_user-prod.sql",
            "edX-DemoX-Demo_Course-auth_user-edge.sql",
            "edX-DemoX-Demo_Course-auth_user-acceptance-analytics.sql",
            "edX-DemoX-Demo_Course-edge.mongo",
            "edX-DemoX-Demo_Course-prod.mongo",
        ],
    )
    inventory = discover_package(tmp_path)
    assert [package_file.path.name for package_file in inventory.courses[0].files] == [
        "edX-DemoX-Demo_Course-auth_user-prod.sql",
        "edX-DemoX-Demo_Course-prod.mongo",
    ]
    kept_user = "edX-DemoX-Demo_Course-auth_user-prod.sql"
    kept_forum = "edX-DemoX-Demo_Course-prod.mongo"
    assert inventory.ignored == [
        (
            "edX-DemoX-Demo_Course-auth_user-acceptance-analytics.sql",
            f"duplicate of {kept_user}; kept {kept_user} because site prod is preferred",
        ),
        (
            "edX-DemoX-Demo_Course-auth_user-edge.sql",
            f"duplicate of {kept_user}; kept {kept_user} because site prod is preferred",
        ),
        (
            "edX-DemoX-Demo_Course-edge.mongo",
            f"duplicate of {kept_forum}; kept {kept_forum} because site prod is preferred",
        ),
    ]


def test_without_prod_or_within_prod_the_first_in_path_order_is_kept(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        [
            "edX-DemoX-Demo_Course-auth_user-stage.sql",
            "edX-DemoX-Demo_Course-auth_user-edge.sql",
            "edX-DemoX-Demo_Course-prod.mongo",
            "edX-DemoX-Demo_Course-prod-analytics.mongo",
        ],
    )
    inventory = discover_package(tmp_path)
    assert [package_file.path.name for package_file in inventory.courses[0].files] == [
        "edX-DemoX-Demo_Course-auth_user-edge.sql",
        "edX-DemoX-Demo_Course-prod-analytics.mongo",
    ]
    assert inventory.ignored == [
        (
            "edX-DemoX-Demo_Course-auth_user-stage.sql",
            "duplicate of edX-DemoX-Demo_Course-auth_user-edge.sql; "
            "kept edX-DemoX-Demo_Course-auth_user-edge.sql because it comes first in path order",
        ),
        (
            "edX-DemoX-Demo_Course-prod.mongo",
            "duplicate of edX-DemoX-Demo_Course-prod-analytics.mongo; "
            "kept edX-DemoX-Demo_Course-prod-analytics.mongo because it comes first in path order",
        ),
    ]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("MITx-6.002x-2012_Fall", "MITx-6_002x-2012_Fall"),  # "." becomes "_" in database names
        ("edX-DemoX-Demo_Course", "edX-demox-Demo_Course"),  # MongoDB refuses names differing in case only
    ],
)
def test_two_courses_that_would_share_a_database_fail_discovery_clearly(
    tmp_path: Path, first: str, second: str
) -> None:
    write_files(tmp_path, [f"{first}-auth_user-prod.sql", f"{second}-auth_user-prod.sql"])
    with pytest.raises(ValueError, match="database names collide") as raised:
        discover_package(tmp_path)
    assert first.split("-")[1] in str(raised.value) and second.split("-")[1] in str(raised.value)


def test_known_courses_reach_the_inventory(tmp_path: Path) -> None:
    write_files(tmp_path, ["Org-Course-2015-T1-auth_user-prod.sql"])
    known = CourseKey(org="Org", course="Course", run="2015-T1")
    assert discover_package(tmp_path, known_courses=[known]).courses[0].course == known
    assert discover_package(tmp_path).courses[0].course == CourseKey(
        org="Org", course="Course-2015", run="T1"
    )


def test_a_missing_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="data-package directory not found"):
        discover_package(tmp_path / "absent")


def test_the_real_sample_package_is_one_course_with_every_file_recognised() -> None:
    inventory = discover_package(obfuscation_state_directory())
    assert inventory.ignored == []
    assert [package.course for package in inventory.courses] == [DEMO]
    files = inventory.courses[0].files
    assert {package_file.site for package_file in files} == {"acceptance"}
    assert sorted(package_file.table for package_file in files if package_file.kind == TABLE_FILE) == [
        "auth_user",
        "auth_userprofile",
        "certificates_generatedcertificate",
        "courseware_studentmodule",
        "student_courseenrollment",
        "student_languageproficiency",
        "teams",
        "teams_membership",
        "user_api_usercoursetag",
        "verify_student_verificationstatus",
        "wiki_article",
        "wiki_articlerevision",
    ]
    assert [package_file.kind for package_file in files].count(FORUM_FILE) == 1
    assert [package_file.kind for package_file in files].count(COURSE_STRUCTURE_FILE) == 1


def test_an_ambiguous_prefix_takes_its_course_from_the_contents(tmp_path: Path) -> None:
    prefix = "UC-BerkeleyX-CS169-2012_Fall"
    (tmp_path / f"{prefix}-auth_user-prod.sql").write_text("id\tusername\n1\tana\n")
    (tmp_path / f"{prefix}-prod.mongo").write_text(
        '{"_id": 1, "course_id": "UC-BerkeleyX/CS169/2012_Fall"}\n'
    )
    (course,) = discover_package(tmp_path).courses
    assert course.course == CourseKey(org="UC-BerkeleyX", course="CS169", run="2012_Fall")
    assert len(course.files) == 2


def test_without_a_course_in_the_contents_the_name_decides(tmp_path: Path) -> None:
    prefix = "MITx-6-00x-2012_Fall"  # a hyphenated course number, and no file names a course
    (tmp_path / f"{prefix}-auth_user-prod.sql").write_text("id\tusername\n1\tana\n")
    (course,) = discover_package(tmp_path).courses
    assert course.course == CourseKey(org="MITx", course="6-00x", run="2012_Fall")


def test_a_course_in_the_contents_that_does_not_fit_the_name_is_not_used(tmp_path: Path) -> None:
    prefix = "UC-BerkeleyX-CS169-2012_Fall"
    (tmp_path / f"{prefix}-student_courseenrollment-prod.sql").write_text(
        "id\tuser_id\tcourse_id\n1\t1\tcourse-v1:Other+X+Y\n"
    )
    (course,) = discover_package(tmp_path).courses
    assert course.course == CourseKey(org="UC", course="BerkeleyX-CS169", run="2012_Fall")


@pytest.mark.parametrize(
    ("name", "text", "course_id"),
    [
        (
            "A-B-C-D-course_structure-prod.json",
            '{"block-v1:A-B+C+D+type@course+block@course": {}}',
            "A-B/C/D",
        ),
        ("A-B-C-D-prod.mongo", '{"course_id": "course-v1:A-B+C+D"}\n', "A-B/C/D"),
        ("A-B-C-D-certificates_generatedcertificate-prod.sql", "id\tcourse_id\n1\tA-B/C/D\n", "A-B/C/D"),
        ("A-B-C-D-auth_user-prod.sql", "id\tusername\n1\tana\n", None),
        ("A-B-C-D-prod.mongo", "not json\n", None),
    ],
)
def test_the_course_a_file_names(tmp_path: Path, name: str, text: str, course_id: str | None) -> None:
    from analytics.edx.naming import parse_course_key

    path = tmp_path / name
    path.write_text(text)
    package_file = parse_package_file_name(path)
    assert package_file is not None
    expected = parse_course_key(course_id) if course_id else None
    assert course_key_from_contents(package_file) == expected
