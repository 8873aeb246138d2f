"""The command line of the demo-data generator: ``python -m scripts.demo_data SOURCE [arguments]``,
one sub-command per source system in ``SOURCES``. A source module gives three functions:
``add_arguments(parser)`` declares its arguments, ``options(arguments)`` turns them into its
options (raising ``ValueError``, reported as a usage error, for those it refuses), and
``run(options)`` generates the data and returns the exit status. Adding a source (BI app data,
messages) is writing such a module and adding one line to ``SOURCES``."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import bi, edx, engagement, messages


@dataclass(frozen=True)
class Source:
    """One source system the generator fills, as a sub-command."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    options: Callable[[argparse.Namespace], Any]
    run: Callable[[Any], int]


SOURCES: tuple[Source, ...] = (
    Source(
        "edx",
        "an edX research data package, daily tracking logs and course configs, under --out",
        edx.add_arguments,
        edx.options,
        edx.run,
    ),
    Source(
        "engagement",
        "the engagement ELT's production database (PostgreSQL prod)",
        engagement.add_arguments,
        engagement.options,
        engagement.run,
    ),
    Source(
        "bi",
        "the clinical-audit application's database that the BI aggregation reads (PostgreSQL app)",
        bi.add_arguments,
        bi.options,
        bi.run,
    ),
    Source(
        "messages",
        "the chatbot platform's MongoDB database that the message analytics export reads (messages)",
        messages.add_arguments,
        messages.options,
        messages.run,
    ),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.demo_data",
        description="Generate deterministic demo data for one source system.",
    )
    commands = parser.add_subparsers(title="sources", required=True)
    for source in SOURCES:
        command = commands.add_parser(source.name, help=source.help, description=source.help)
        source.add_arguments(command)
        command.set_defaults(source=source, command=command)
    return parser


def main(argv: list[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    source: Source = arguments.source
    try:
        options = source.options(arguments)
    except ValueError as error:
        arguments.command.error(str(error))
    return source.run(options)
