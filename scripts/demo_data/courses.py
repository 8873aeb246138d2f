"""Course outlines for the edX demo data: each course run gets chapters, sequentials (lessons, the
second one graded), verticals (units) and their leaves (html, video, problem), plus the blocks
real courses have and parsers must survive: a conditional and a wrapper with children, an open
assessment and inline discussions. Also here: the kinds of problems and the answers a learner
gives, which both the package's student state and the tracking events show."""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Iterator
from datetime import date, datetime

from .clock import day_start, iso_seconds
from .randomness import derived_random, random_hex, youtube_id
from .world_model import Block, Course, CoursewarePage, GeneratorOptions

COURSE_TITLES = (
    "Introduction to Data Analysis", "Data Visualization with Python", "Statistics for Data Science",
    "Machine Learning Foundations", "Databases and SQL", "Data Ethics and Privacy", "Time Series Analysis",
    "Big Data Engineering",
)  # fmt: skip
TOPICS = (
    "Getting Started", "Describing Data", "Probability", "Sampling", "Regression", "Classification",
    "Clustering", "Visual Encoding", "Working with Tables", "Experiments", "Networks", "Final Project",
)  # fmt: skip
PROBLEM_KINDS = {  # kind: (input_type, response_type)
    "multiple_choice": ("choicegroup", "multiplechoiceresponse"),
    "checkboxes": ("checkboxgroup", "choiceresponse"),
    "numerical": ("formulaequationinput", "numericalresponse"),
    "text": ("textline", "stringresponse"),
    "javascript": ("jsinput", "customresponse"),
}
TEXT_ANSWERS = ('the "median"', "écart-type", "σ / √n", "C:\\data\\run1.csv", "mean\tmedian", "n − 1", "数据")


def course_run(start_date: date) -> str:
    """'2024_T1' for a course starting between January and April 2024 (T2: May-August, T3: later)."""
    return f"{start_date.year}_T{(start_date.month - 1) // 4 + 1}"


def new_block(
    rng: random.Random, course_prefix: str, category: str, display_name: str, **metadata: object
) -> Block:
    block_id = random_hex(rng)
    key = f"block-v1:{course_prefix}+type@{category}+block@{block_id}"
    return Block(key, category, block_id, display_name, {"display_name": display_name, **metadata})


def new_leaf(rng: random.Random, course_prefix: str, category: str, number: int) -> Block:
    if category == "video":
        block = new_block(rng, course_prefix, "video", f"Video {number}", youtube_id_1_0=youtube_id(rng))
        block.youtube_id = str(block.metadata["youtube_id_1_0"])
        block.duration_seconds = rng.randrange(90, 900)
        return block
    if category == "problem":
        kind = rng.choice(list(PROBLEM_KINDS))
        block = new_block(
            rng, course_prefix, "problem", f"Check your understanding {number}", weight=1.0, max_attempts=3
        )
        block.problem_kind = kind
        return block
    return new_block(rng, course_prefix, "html", f"Reading {number}")


def build_outline(rng: random.Random, org: str, code: str, run: str, title: str, start: datetime) -> Course:
    """course -> chapter -> sequential -> vertical -> leaves, plus a conditional, a wrapper, an
    open assessment and inline discussions below some verticals."""
    course_prefix = f"{org}+{code}+{run}"
    metadata = {"display_name": title, "start": iso_seconds(start), "org": org, "course": code}
    root = Block(f"block-v1:{course_prefix}+type@course+block@course", "course", "course", title, metadata)
    pages: list[CoursewarePage] = []
    leaf_numbers = itertools.count(1)
    for chapter_number in range(1, rng.randint(3, 5) + 1):
        topic = TOPICS[(chapter_number + rng.randrange(len(TOPICS))) % len(TOPICS)]
        chapter_name = f"Week {chapter_number}: {topic}"
        chapter = new_block(rng, course_prefix, "chapter", chapter_name, start=iso_seconds(start))
        root.children.append(chapter)
        for sequential_number in range(1, rng.randint(2, 3) + 1):
            graded = sequential_number == 2
            sequential = new_block(
                rng,
                course_prefix,
                "sequential",
                f"Lesson {chapter_number}.{sequential_number}",
                graded=graded,
                format="Homework" if graded else None,
            )
            chapter.children.append(sequential)
            pages += build_units(rng, course_prefix, chapter, sequential, leaf_numbers)
    add_special_blocks(rng, course_prefix, pages)
    for page in pages:
        page.leaves = leaves_below(page.vertical)
    return Course(org, code, run, title, root, pages)


def build_units(
    rng: random.Random, course_prefix: str, chapter: Block, sequential: Block, leaf_numbers: Iterator[int]
) -> list[CoursewarePage]:
    """The verticals of a sequential, each with an html leaf and usually a video and a problem."""
    course_id = f"course-v1:{course_prefix}"
    vertical_count = rng.randint(2, 4)
    pages = []
    for position in range(1, vertical_count + 1):
        vertical = new_block(rng, course_prefix, "vertical", f"Unit {position}")
        sequential.children.append(vertical)
        for category in ("video", "problem", "html"):
            if category == "html" or rng.random() < 0.7:
                vertical.children.append(new_leaf(rng, course_prefix, category, next(leaf_numbers)))
        pages.append(CoursewarePage(course_id, chapter, sequential, vertical, position, vertical_count, []))
    return pages


def add_special_blocks(rng: random.Random, course_prefix: str, pages: list[CoursewarePage]) -> None:
    """A conditional and a wrapper (each with children), an open assessment and discussions."""
    conditional_page, wrapper_page, assessment_page = rng.sample(pages, 3)
    gate = new_leaf(rng, course_prefix, "problem", 900)
    gate.problem_kind = "multiple_choice"
    conditional = new_block(
        rng,
        course_prefix,
        "conditional",
        "Bonus material",
        sources_list=[gate.key],
        conditional_attr="attempted",
        conditional_value="True",
    )
    conditional.children = [
        new_leaf(rng, course_prefix, "html", 901),
        new_leaf(rng, course_prefix, "problem", 902),
    ]
    conditional_page.vertical.children.extend([gate, conditional])
    wrapper = new_block(rng, course_prefix, "wrapper", "Worked example")
    wrapper.children = [new_leaf(rng, course_prefix, "video", 903), new_leaf(rng, course_prefix, "html", 904)]
    wrapper_page.vertical.children.append(wrapper)
    assessment_page.vertical.children.append(
        new_block(rng, course_prefix, "openassessment", "Peer-reviewed essay", allow_latex=False)
    )
    for page in rng.sample(pages, max(1, len(pages) // 4)):
        discussion_id = random_hex(rng, 40)
        page.vertical.children.append(
            new_block(
                rng,
                course_prefix,
                "discussion",
                "Discuss this unit",
                discussion_id=discussion_id,
                discussion_category=page.chapter.display_name,
                discussion_target=page.sequential.display_name,
            )
        )


def leaves_below(block: Block) -> list[Block]:
    """Leaf blocks shown on a vertical, looking inside conditionals and wrappers."""
    leaves: list[Block] = []
    for child in block.children:
        leaves.extend(leaves_below(child) if child.children else [child])
    return leaves


def build_courses(options: GeneratorOptions) -> list[Course]:
    run = course_run(options.start_date)
    start = day_start(options.start_date, 0)
    courses = []
    for index in range(options.courses):
        code = f"DATA{101 + index}x"
        title = COURSE_TITLES[index % len(COURSE_TITLES)]
        if index >= len(COURSE_TITLES):
            title = f"{title} {index // len(COURSE_TITLES) + 1}"
        rng = derived_random(options.seed, "outline", code)
        courses.append(build_outline(rng, options.org, code, run, title, start))
    return courses


def problem_answer(rng: random.Random, problem: Block) -> tuple[object, str]:
    """A learner's answer to a problem, and its text as shown in a problem_check submission."""
    if problem.problem_kind == "multiple_choice":
        choice = rng.randrange(4)
        return f"choice_{choice}", f"Option {'ABCD'[choice]}"
    if problem.problem_kind == "checkboxes":
        choices = sorted(rng.sample(range(4), rng.randint(1, 3)))
        labels = ", ".join(f"Option {'ABCD'[choice]}" for choice in choices)
        return [f"choice_{choice}" for choice in choices], labels
    if problem.problem_kind == "numerical":
        value = f"{rng.uniform(0, 10):.2f}"
        return value, value
    if problem.problem_kind == "javascript":  # JSON answer holding JSON state, as in edX's sample
        inner_state = json.dumps({"selected": rng.sample(range(6), 2), "note": "line 1\nline 2"})
        answer = json.dumps({"answer": "OC(O)C(Cl)(Cl)Cl", "state": inner_state}, separators=(",", ":"))
        return answer, answer
    text = rng.choice(TEXT_ANSWERS)
    return text, text
