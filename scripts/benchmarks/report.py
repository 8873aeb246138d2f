"""The one report of ``make bench``: every benchmark's part (``.local/bench/parts/*.json``, see
``records.py``) assembled with the run's machine and scripts into ``.local/bench/report.json`` and
``report.md`` (each figure beside its anchor, the ratio, the target and met or missed), and the
plots of the tracking master load against its input size (``.local/bench/plots/*.png``).

``python -m scripts.benchmarks.report`` assembles the parts there are (after one benchmark run by
hand, say); ``make bench`` runs it at its end through ``run_all.py``. ``--publish docs/bench``
also copies the plots there, the stable path the README shows them from."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from scripts.benchmarks.common import PARTS_DIR, REPO, RESULTS_DIR
from scripts.benchmarks.figures import BUILDERS, TRACKING_SERIES
from scripts.benchmarks.records import SCHEMA_VERSION, figure_from_dict, read_part

REPORT_JSON = RESULTS_DIR / "report.json"
REPORT_MD = RESULTS_DIR / "report.md"
RUN_FILE = RESULTS_DIR / "run.json"  # the run's machine and scripts, written by run_all.py
PLOTS_DIR = RESULTS_DIR / "plots"
THROUGHPUT_PLOT = "tracking_load_throughput.png"
MEMORY_PLOT = "tracking_load_memory.png"
PLOT_DPI = 110
ORDER = list(BUILDERS)  # the report's order of benchmarks


# -- assembling -------------------------------------------------------------------------------


def missed_figures(part: dict[str, Any]) -> list[str]:
    return [raw["name"] for raw in part["figures"] if figure_from_dict(raw).met is False]


def script_errors(run: dict[str, Any], parts: dict[str, dict[str, Any]]) -> list[str]:
    """A script that wrote no part, or exited non-zero though none of its targets was missed."""
    errors = []
    for script in run.get("scripts", []):
        name, code = script["benchmark"], script["exit_code"]
        if name not in parts:
            errors.append(f"{name}: `{script['command']}` exited {code} and wrote no figures")
        elif code != 0 and not missed_figures(parts[name]):
            errors.append(f"{name}: `{script['command']}` exited {code} with no target missed")
    return errors


def assemble(parts: Iterable[dict[str, Any]], run: dict[str, Any]) -> dict[str, Any]:
    """The report's data: the run, the parts in the benchmarks' order, and what was met and missed."""
    by_name = {part["benchmark"]: part for part in parts}
    ordered = sorted(
        by_name.values(),
        key=lambda part: (
            ORDER.index(part["benchmark"]) if part["benchmark"] in ORDER else len(ORDER),
            part["benchmark"],
        ),
    )
    figures = [(part["benchmark"], figure_from_dict(raw)) for part in ordered for raw in part["figures"]]
    judged = [(name, figure) for name, figure in figures if figure.met is not None]
    missed = [f"{name}: {figure.name}" for name, figure in judged if not figure.met]
    errors = script_errors(run, by_name) + [
        f"{part['benchmark']}: {note}"
        for part in ordered
        for note in part.get("notes", [])
        if "ERROR" in note
    ]
    return {
        "schema": SCHEMA_VERSION,
        "run": run,
        "benchmarks": ordered,
        "summary": {
            "figures": len(figures),
            "targets": len(judged),
            "met": len(judged) - len(missed),
            "missed": missed,
            "errors": errors,
            "ok": not missed and not errors,
        },
        "plots": [],
    }


# -- the markdown -----------------------------------------------------------------------------


def format_value(value: float | None, unit: str) -> str:
    """A figure as the report prints it: rates as whole numbers, seconds and MB with decimals."""
    if value is None:
        return "—"
    if "/" in unit or unit == "messages":
        return f"{value:,.0f}"
    if unit == "s":
        return f"{value:,.2f}"
    if unit == "MB":
        return f"{value:,.1f}"
    return f"{value:,g}"


def verdict(met: bool | None) -> str:
    return {None: "", True: "met", False: "**MISSED**"}[met]


def figure_rows(part: dict[str, Any]) -> Iterator[str]:
    yield "| figure | value | anchor, same run | anchor value | ratio | target | |"
    yield "|---|---:|---|---:|---:|---|---|"
    for raw in part["figures"]:
        figure = figure_from_dict(raw)
        unit = figure.unit
        ratio = "—" if figure.ratio is None else f"{figure.ratio:.3f}"
        target = "—" if figure.target is None else figure.target.describe(unit)
        name = figure.name + (f" ({figure.note})" if figure.note else "")
        yield (
            f"| {name} | {format_value(figure.value, unit)} {unit} | {figure.anchor or '—'} | "
            f"{format_value(figure.anchor_value, unit) if figure.anchor else '—'} | {ratio} | {target} | "
            f"{verdict(figure.met)} |"
        )


def load_text(values: list[float] | None) -> str:
    return " ".join(f"{value:g}" for value in values) if values else "?"


def machine_rows(run: dict[str, Any]) -> Iterator[str]:
    machine = run.get("machine", {})
    servers = machine.get("servers", {})
    memory = machine.get("memory_mb")
    loads = run.get("load_average", {})
    yield "| | |"
    yield "|---|---|"
    yield (
        f"| CPU | {machine.get('cpu_model') or 'unknown'}: {machine.get('cores', '?')} cores "
        f"({machine.get('cores_usable', '?')} usable) |"
    )
    yield f"| memory | {'unknown' if memory is None else f'{memory / 1024:.1f} GB'} |"
    yield f"| Python | {machine.get('python', '?')} on {machine.get('platform', '?')} |"
    yield f"| PostgreSQL | {servers.get('postgresql', '?')} |"
    yield f"| MongoDB-compatible server | {servers.get('mongodb', '?')} |"
    yield f"| load average (1, 5, 15 min) | {load_text(loads.get('start'))} at start, {load_text(loads.get('end'))} at end |"


def summary_rows(report: dict[str, Any]) -> Iterator[str]:
    scripts = {script["benchmark"]: script for script in report["run"].get("scripts", [])}
    yield "| benchmark | figures | targets met | missed | exit | seconds | load average at start, end |"
    yield "|---|---:|---:|---:|---:|---:|---|"
    for part in report["benchmarks"]:
        figures = [figure_from_dict(raw) for raw in part["figures"]]
        judged = [figure for figure in figures if figure.met is not None]
        missed = sum(1 for figure in judged if not figure.met)
        script = scripts.get(part["benchmark"], {})
        loads = part.get("load_average", {})
        yield (
            f"| {part['title']} | {len(figures)} | {len(judged) - missed} of {len(judged)} | {missed} | "
            f"{script.get('exit_code', '—')} | {script.get('seconds', '—')} | "
            f"{load_text(loads.get('start'))}; {load_text(loads.get('end'))} |"
        )


def render_markdown(report: dict[str, Any]) -> str:
    """report.md: the machine, the summary, each benchmark's table, the plots."""
    run, summary = report["run"], report["summary"]
    lines = ["# Benchmark report", ""]
    when = f"{run.get('started', '?')} to {run.get('finished', '?')}"
    lines.append(f"`{run.get('command', 'make bench')}`, {when} ({run.get('seconds', '?')} s).")
    if run.get("sizes") and run["sizes"] != "full":
        lines.append(
            f"Input sizes: **{run['sizes']}**, a trial of the machinery: do not quote these figures."
        )
    lines += ["", "## Machine", "", *machine_rows(run), "", "## Summary", ""]
    lines.append(
        f"{summary['targets']} targets: {summary['met']} met, {len(summary['missed'])} missed; "
        f"{summary['figures']} figures in all. Ratio: the figure over its anchor, measured in the same run."
    )
    lines += [""] + [f"- missed: {name}" for name in summary["missed"]]
    lines += [f"- error: {error}" for error in summary["errors"]]
    lines += ["", *summary_rows(report)]
    for part in report["benchmarks"]:
        lines += ["", f"## {part['title']}", ""]
        parameters = " ".join(
            f"--{key.replace('_', '-')} {value}" for key, value in part["parameters"].items()
        )
        lines.append(
            f"{part.get('started') or '?'} to {part.get('finished') or '?'}; parameters: `{parameters or 'defaults'}`; "
            f"results: `{part.get('results_file') or '?'}`."
        )
        lines += ["", *figure_rows(part)]
        lines += [f"\n{note}" for note in part.get("notes", [])]
    if report["plots"]:
        lines += ["", "## Tracking master load against its input size", ""]
        for plot in report["plots"]:
            lines.append(f"![{plot['title']}]({plot['link']})")
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


# -- the plots --------------------------------------------------------------------------------


def _canvas_figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure as PlotFigure

    figure = PlotFigure(figsize=(width, height), dpi=PLOT_DPI)
    FigureCanvasAgg(figure)  # Agg, whatever the environment's backend: no display needed
    return figure


def _events_axis(axes: Any) -> None:
    """The x axis: events in the file, from 0, in thousands, a few ticks."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    axes.set_xlim(left=0)
    axes.set_xlabel("events in the file")
    axes.xaxis.set_major_locator(MaxNLocator(5))
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value / 1000:,.0f}k" if value else "0"))


def throughput_plot(points: list[dict[str, Any]]) -> Any:
    """Seconds against events (beside the straight line through the origin and the largest load:
    linear cost lies on it) and events/s against events (flat for linear cost)."""
    events = [point["events"] for point in points]
    seconds = [point["seconds"] for point in points]
    rates = [point["events_per_second"] for point in points]
    figure = _canvas_figure(10, 4)
    cost, rate = figure.subplots(1, 2)
    cost.plot(events, seconds, "o-", label="load_tracking_file")
    slope = seconds[-1] / events[-1] if events[-1] else 0.0
    cost.plot(
        [0, events[-1]], [0, slope * events[-1]], "--", color="grey", label="proportional to the events"
    )
    cost.set(ylabel="seconds", title="Time of the master load")
    _events_axis(cost)
    cost.set_ylim(bottom=0)
    cost.legend()
    rate.plot(events, rates, "o-")
    rate.set(ylabel="events/s", title="Throughput")
    _events_axis(rate)
    rate.set_ylim(bottom=0, top=max(rates) * 1.25 if rates and max(rates) else 1)
    figure.tight_layout()
    return figure


def memory_plot(points: list[dict[str, Any]], limit_mb: float | None) -> Any:
    """Peak RSS of the load's process against events, beside its RSS before the load (imports, client)."""
    events = [point["events"] for point in points]
    figure = _canvas_figure(6, 4)
    axes = figure.subplots()
    axes.plot(
        events, [point["peak_rss_mb"] for point in points], "o-", label="peak RSS of the load's process"
    )
    axes.plot(
        events, [point["peak_rss_mb_before_load"] for point in points], "s:", label="RSS before the load"
    )
    if limit_mb:
        axes.axhline(limit_mb, linestyle="--", color="red", label=f"limit {limit_mb:g} MB")
    axes.set(ylabel="MB", title="Peak memory of the master load")
    _events_axis(axes)
    axes.set_ylim(bottom=0)
    axes.legend(loc="lower right")
    figure.tight_layout()
    return figure


def write_plots(
    points: list[dict[str, Any]], directory: Path, limit_mb: float | None
) -> list[dict[str, Any]]:
    """Both PNGs of the tracking load into ``directory``; what each shows and how many sizes."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, title, figure in (
        (
            THROUGHPUT_PLOT,
            "Tracking master load: time and throughput against the file's events",
            throughput_plot(points),
        ),
        (
            MEMORY_PLOT,
            "Tracking master load: peak memory against the file's events",
            memory_plot(points, limit_mb),
        ),
    ):
        path = directory / name
        figure.savefig(path, format="png")
        written.append({"path": str(path), "title": title, "points": len(points)})
    return written


def tracking_points(parts: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    for part in parts:
        points = part.get("series", {}).get(TRACKING_SERIES)
        if points:
            return sorted(points, key=lambda point: point["events"])
    return []


# -- writing it -------------------------------------------------------------------------------


def read_parts(directory: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """The parts in ``directory``, and the errors of those that cannot be read."""
    parts, errors = [], []
    for path in sorted(directory.glob("*.json")):
        try:
            parts.append(read_part(path))
        except ValueError as error:
            errors.append(f"part {error}")
    return parts, errors


def write_report(
    run: dict[str, Any], parts_dir: Path = PARTS_DIR, out_dir: Path = RESULTS_DIR
) -> dict[str, Any]:
    """report.json, report.md and the plots from the parts in ``parts_dir``; returns the report."""
    from scripts.benchmarks.tracking_report import PEAK_RSS_LIMIT_MB

    parts, unreadable = read_parts(parts_dir)
    report = assemble(parts, run)
    report["summary"]["errors"] += unreadable
    report["summary"]["ok"] = report["summary"]["ok"] and not unreadable
    points = tracking_points(report["benchmarks"])
    if points:
        plots_dir = out_dir / "plots"
        for plot in write_plots(points, plots_dir, PEAK_RSS_LIMIT_MB):
            plot["link"] = str(Path(plot["path"]).relative_to(out_dir))
            plot["path"] = (
                str(Path(plot["path"]).relative_to(REPO))
                if Path(plot["path"]).is_relative_to(REPO)
                else plot["path"]
            )
            report["plots"].append(plot)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out_dir / "report.md").write_text(render_markdown(report))
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--publish", type=Path, help="also copy the plots into this folder (e.g. docs/bench)")
    arguments = parser.parse_args(argv)
    run = (
        json.loads(RUN_FILE.read_text())
        if RUN_FILE.exists()
        else {"command": "python -m scripts.benchmarks.report"}
    )
    report = write_report(run)
    print(render_markdown(report))
    if arguments.publish:
        arguments.publish.mkdir(parents=True, exist_ok=True)
        for plot in report["plots"]:
            source = Path(plot["path"]) if Path(plot["path"]).is_absolute() else REPO / plot["path"]
            shutil.copy2(source, arguments.publish / source.name)
            print(f"published {arguments.publish / source.name}")
    return 0 if report["summary"]["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
