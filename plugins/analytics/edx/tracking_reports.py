"""What a run of the tracking-log DAGs did, from its tasks' summaries: totals and problems. Pure.

The operators' ``report_*`` and ``check_*`` functions log these and raise; the arithmetic is here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

EXTRACTION_COUNTERS = ("selected", "written", "enriched", "not_enriched", "removed")


def master_load_totals(plan: Mapping[str, Any], loads: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The totals of a master-load run: files by status, lines, events, discards by reason, and the plan's rest."""
    by_status: Counter[str] = Counter(load["status"] for load in loads)
    reasons: Counter[str] = Counter()
    for load in loads:
        reasons.update(load["discarded_by_reason"])
    return {
        "files_planned": len(plan.get("to_load", [])),
        "files_loaded": len(loads),
        "by_status": dict(by_status),
        "lines_read": sum(load["read"] for load in loads),
        "events_loaded": sum(load["loaded"] for load in loads),
        "already_loaded": sum(load["already_loaded"] for load in loads),
        "discarded": sum(load["discarded"] for load in loads),
        "discarded_by_reason": dict(reasons),
        "files_complete_before": plan.get("complete", 0),
        "files_changed": [entry["name"] for entry in plan.get("changed", [])],
        "files_deferred": len(plan.get("deferred", [])),
        "files_ignored": len(plan.get("ignored", [])),
    }


def master_load_problems(plan: Mapping[str, Any], loads: Sequence[Mapping[str, Any]]) -> list[str]:
    """Why a master-load run must fail: a planned file not complete, a complete file changed, a name conflict."""
    problems = []
    loaded = {load["name"]: load for load in loads}
    for entry in plan.get("to_load", []):
        load = loaded.get(entry["name"])
        if load is None:
            problems.append(f"{entry['name']} was not loaded (its task failed before the end)")
        elif load["status"] != "complete":
            problems.append(f"{entry['name']} is {load['status']}: {load.get('failure')}")
    for entry in plan.get("changed", []):
        problems.append(f"{entry['name']} changed since it was loaded: reload it with reload_files")
    conflicts = [entry["file"] for entry in plan.get("ignored", []) if "both known as" in entry["reason"]]
    if conflicts:
        problems.append(f"files known by one name, none loaded: {', '.join(conflicts)}")
    return problems


def extraction_totals(summaries: Sequence[Mapping[str, Any]], configs: int) -> dict[str, Any]:
    """The totals of an extraction run over its course summaries."""
    totals: dict[str, Any] = {"courses": len(summaries), "configs": configs}
    totals.update({key: sum(summary[key] for summary in summaries) for key in EXTRACTION_COUNTERS})
    return totals
