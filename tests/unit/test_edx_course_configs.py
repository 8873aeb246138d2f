"""Course configs: McGillX's real files validate, the template and every kind of mistake are refused by file and field."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from analytics.core.config import ConfigError
from analytics.edx.course_configs import (
    COURSE_CONFIG_DIR,
    CourseConfig,
    list_course_configs,
    parse_course_config,
)
from analytics.edx.naming import course_database_name

GOOD = {
    "edx_id": "data101x",
    "edx_course_name": "Data for All",
    "course_ids": ["course-v1:DemoOrgX+DATA101x+2024_T1"],
    "date_of_course_enrollment": "2024-01-15",
    "date_of_course_completion": "2024-03-05",
}


def write(directory: Path, name: str, config: dict | str) -> Path:
    path = directory / name
    path.write_text(config if isinstance(config, str) else json.dumps(config), encoding="utf-8")
    return path


def refused(tmp_path: Path, config: dict | str) -> ConfigError:
    path = write(tmp_path, "course.json", config)
    with pytest.raises(ConfigError) as caught:
        parse_course_config(path)
    assert str(caught.value).startswith(f"{path}")  # every message names the file
    return caught.value


def test_the_real_mcgillx_configs_validate(samples_dir: Path) -> None:
    chem = parse_course_config(samples_dir / "mcgillx" / "chem181x_config.json")
    atoc = parse_course_config(samples_dir / "mcgillx" / "atoc185x_2_config.json")

    assert chem == CourseConfig(
        path=samples_dir / "mcgillx" / "chem181x_config.json",
        edx_id="chem181x",
        edx_course_name="Food for Thought",
        course_ids=("McGillX/CHEM181x/1T2014",),
        date_of_course_enrollment=date(2013, 10, 15),
        date_of_course_completion=date(2014, 5, 1),
    )
    assert atoc.edx_id == "atoc185x_2" and atoc.course_ids == ("McGillX/ATOC185x_2/1T2015",)
    assert atoc.database_name == "McGillX_ATOC185x_2_1T2015"


def test_the_template_is_refused(samples_dir: Path) -> None:
    with pytest.raises(ConfigError, match=r"template_config\.json: key 'edx_id': empty"):
        parse_course_config(samples_dir / "mcgillx" / "template_config.json")


def test_the_window_holds_the_completion_day_whole_and_not_the_day_after(tmp_path: Path) -> None:
    config = parse_course_config(write(tmp_path, "c.json", GOOD))

    assert config.window() == (datetime(2024, 1, 15, tzinfo=UTC), datetime(2024, 3, 6, tzinfo=UTC))


def test_a_one_day_course_is_a_24_hour_window(tmp_path: Path) -> None:
    config = parse_course_config(
        write(tmp_path, "c.json", {**GOOD, "date_of_course_completion": GOOD["date_of_course_enrollment"]})
    )
    start, end = config.window()
    assert (end - start).total_seconds() == 24 * 3600


def test_course_id_forms_give_both_styles_of_every_id_and_the_id_as_written(tmp_path: Path) -> None:
    config = parse_course_config(
        write(
            tmp_path,
            "c.json",
            {
                **GOOD,
                "course_ids": [
                    "McGillX/CHEM181x/1T2014",
                    "course-v1:McGillX+CHEM181x+3T2014",
                    "ccx-v1:McGillX+CHEM181x+2T2015+ccx@7",
                ],
            },
        )
    )

    assert config.course_id_forms() == (
        "McGillX/CHEM181x/1T2014",
        "course-v1:McGillX+CHEM181x+1T2014",
        "course-v1:McGillX+CHEM181x+3T2014",
        "McGillX/CHEM181x/3T2014",
        "ccx-v1:McGillX+CHEM181x+2T2015+ccx@7",  # a CCX is its own run: not its parent course's forms
    )


def test_the_database_is_the_ingestion_s_database_of_the_first_course_id(tmp_path: Path) -> None:
    config = parse_course_config(
        write(tmp_path, "c.json", {**GOOD, "course_ids": ["edX/DemoX/Demo_Course", "course-v1:edX+DemoX+2T"]})
    )
    assert (
        config.database_name
        == course_database_name("course-v1:edX+DemoX+Demo_Course")
        == "edX_DemoX_Demo_Course"
    )


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"edx_id": None}, "edx_id", "missing"),
        ({"edx_course_name": None}, "edx_course_name", "missing"),
        ({"course_ids": None}, "course_ids", "missing"),
        ({"date_of_course_enrollment": None}, "date_of_course_enrollment", "missing"),
        ({"date_of_course_completion": None}, "date_of_course_completion", "missing"),
        ({"edx_id": 181}, "edx_id", "expected str, got 181"),
        ({"edx_id": ""}, "edx_id", "empty"),
        ({"edx_course_name": "  "}, "edx_course_name", "empty"),
        ({"edx_id": " chem181x"}, "edx_id", "leading or trailing spaces"),
        ({"course_ids": "McGillX/CHEM181x/1T2014"}, "course_ids", "expected list"),
        ({"course_ids": []}, "course_ids", "empty"),
        ({"course_ids": [""]}, "course_ids[0]", "empty"),
        ({"course_ids": ["course-v1:A+B+C", 7]}, "course_ids[1]", "expected a course id string, got 7"),
        ({"course_ids": ["CHEM181x"]}, "course_ids[0]", "not a course key"),
        ({"course_ids": ["McGillX/CHEM181x"]}, "course_ids[0]", "three non-empty ids"),
        ({"course_ids": ["block-v1:A+B+C+type@video+block@v"]}, "course_ids[0]", "a block key"),
        ({"course_ids": ["A/B/C", "A/B/C"]}, "course_ids[1]", "listed twice"),
        ({"date_of_course_enrollment": "YYYY-MM-DD"}, "date_of_course_enrollment", "template's placeholder"),
        (
            {"date_of_course_completion": "2024-02-30"},
            "date_of_course_completion",
            "expected a date YYYY-MM-DD",
        ),
        (
            {"date_of_course_completion": "20240305"},
            "date_of_course_completion",
            "expected a date YYYY-MM-DD",
        ),
        ({"date_of_course_completion": "2024-03-05T00:00"}, "date_of_course_completion", "expected a date"),
        ({"date_of_course_completion": 20240305}, "date_of_course_completion", "expected str"),
        (
            {"date_of_course_completion": "2024-01-14"},
            "date_of_course_completion",
            "completes (2024-01-14) before",
        ),
        ({"course_id": "A/B/C"}, None, "unknown field(s) 'course_id'"),
    ],
)
def test_a_bad_config_is_refused_naming_the_field(
    tmp_path: Path, change: dict, field: str | None, message: str
) -> None:
    config = {**GOOD, **change}
    config = {key: value for key, value in config.items() if value is not None}

    error = refused(tmp_path, config)

    assert error.key == field
    assert message in str(error)


def test_not_json_and_not_an_object_are_refused(tmp_path: Path) -> None:
    assert "not valid JSON" in str(refused(tmp_path, "{'edx_id': 'x'}"))
    assert "expected a JSON object" in str(refused(tmp_path, "[1, 2]"))


def test_listing_is_sorted_json_only_and_keeps_unparseable_files_when_not_selecting(
    tmp_path: Path, samples_dir: Path
) -> None:
    for sample in sorted((samples_dir / "mcgillx").glob("*.json")):
        shutil.copy(sample, tmp_path)
    write(tmp_path, "broken.json", "{not json")
    write(tmp_path, "README.md", "# not a config")

    listed = list_course_configs(tmp_path)

    assert [path.name for path in listed] == [
        "atoc185x_2_config.json",
        "broken.json",
        "chem181x_config.json",
        "template_config.json",  # listed: its own task fails with the reason
    ]


def test_selecting_by_edx_id_ignores_other_files_errors(tmp_path: Path, samples_dir: Path) -> None:
    for sample in sorted((samples_dir / "mcgillx").glob("*.json")):
        shutil.copy(sample, tmp_path)
    write(tmp_path, "broken.json", "{not json")

    assert [path.name for path in list_course_configs(tmp_path, ["chem181x"])] == ["chem181x_config.json"]
    assert [path.name for path in list_course_configs(tmp_path, ["atoc185x_2", "chem181x"])] == [
        "atoc185x_2_config.json",
        "chem181x_config.json",
    ]


def test_selecting_an_edx_id_that_no_file_has_is_an_error_naming_it(
    tmp_path: Path, samples_dir: Path
) -> None:
    shutil.copy(samples_dir / "mcgillx" / "chem181x_config.json", tmp_path)
    write(tmp_path, "broken.json", "{not json")

    with pytest.raises(ValueError) as caught:
        list_course_configs(tmp_path, ["chem181x", "phys101x", "atoc185x_2"])

    message = str(caught.value)
    assert "no course config has edx_id 'atoc185x_2', 'phys101x'" in message
    assert "configs found: chem181x" in message and "broken.json: not valid JSON" in message


def test_two_configs_with_one_edx_id_are_refused(tmp_path: Path) -> None:
    write(tmp_path, "a.json", GOOD)
    write(tmp_path, "b.json", {**GOOD, "course_ids": ["course-v1:DemoOrgX+DATA202x+2024_T1"]})

    with pytest.raises(ValueError, match=r"a\.json and b\.json have the same edx_id 'data101x'"):
        list_course_configs(tmp_path)
    with pytest.raises(ValueError, match="same edx_id"):
        list_course_configs(tmp_path, ["data101x"])


def test_two_configs_writing_one_database_are_refused(tmp_path: Path) -> None:
    write(tmp_path, "a.json", GOOD)
    write(tmp_path, "b.json", {**GOOD, "edx_id": "data101x_old", "course_ids": ["DemoOrgX/DATA101x/2024_T1"]})
    write(
        tmp_path, "c.json", {**GOOD, "edx_id": "upper", "course_ids": ["course-v1:DEMOORGX+DATA101X+2024_T1"]}
    )

    with pytest.raises(ValueError) as caught:
        list_course_configs(tmp_path)

    message = str(caught.value)
    assert "a.json and b.json write the same database ('DemoOrgX_DATA101x_2024_T1'" in message
    assert "a.json and c.json write the same database" in message  # names equal ignoring case
    assert [path.name for path in list_course_configs(tmp_path, ["upper"])] == ["c.json"]  # alone: fine


def test_a_missing_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        list_course_configs(tmp_path / "nowhere")


def test_the_default_directory_is_include_config_courses() -> None:
    assert COURSE_CONFIG_DIR.parts[-3:] == ("include", "config", "courses")
    assert (COURSE_CONFIG_DIR / "README.md").is_file()
    assert list_course_configs(COURSE_CONFIG_DIR) == sorted(COURSE_CONFIG_DIR.glob("*.json"))
