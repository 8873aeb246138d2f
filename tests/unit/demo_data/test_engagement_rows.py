"""The engagement source's rows (scripts/demo_data/engagement_rows.py) are deterministic and carry
the cases the ELT must handle."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from scripts.demo_data.engagement_rows import (
    GenerationPlan,
    build_reference_data,
    events_per_day,
    iter_api_logs,
    iter_events,
    iter_job_logs,
)

SMALL = GenerationPlan(seed=3, weeks=12, users=400, events=5000, start_monday=date(2024, 3, 4))
PARIS = ZoneInfo("Europe/Paris")


def _everything(plan: GenerationPlan) -> dict[str, list]:
    reference = build_reference_data(plan)
    return {
        "agence": reference.agences,
        "conseiller": reference.conseillers,
        "jeune": reference.jeunes,
        "feature_flip": reference.feature_flips,
        "evenement_engagement": list(iter_events(plan, reference)),
        "log_api_partenaire": list(iter_api_logs(plan, reference)),
        "log_job": list(iter_job_logs(plan)),
    }


def test_same_seed_gives_the_same_rows() -> None:
    assert _everything(SMALL) == _everything(GenerationPlan(**SMALL.__dict__))


def test_another_seed_gives_other_rows() -> None:
    other = GenerationPlan(**{**SMALL.__dict__, "seed": 4})
    assert _everything(SMALL)["evenement_engagement"] != _everything(other)["evenement_engagement"]


def test_event_counts_and_ids() -> None:
    events = _everything(SMALL)["evenement_engagement"]
    assert len(events) == SMALL.events == sum(events_per_day(SMALL))
    assert [event[0] for event in events] == list(range(1, SMALL.events + 1))
    assert [event[1] for event in events] == sorted(event[1] for event in events)
    first = datetime(2024, 3, 4, tzinfo=PARIS)
    last = datetime(2024, 5, 27, tzinfo=PARIS)
    assert all(first <= event[1] < last for event in events)


def test_the_data_carries_the_cases_the_elt_must_handle() -> None:
    data = _everything(SMALL)
    events = data["evenement_engagement"]
    agence_of = {conseiller[0]: conseiller[1] for conseiller in data["conseiller"]}
    known_users = set(agence_of) | {jeune[0] for jeune in data["jeune"]}

    assert len(data["conseiller"]) + len(data["jeune"]) == SMALL.users
    assert len({agence[2] for agence in data["agence"] if agence[2]}) >= 5  # departments
    assert len({agence[3] for agence in data["agence"] if agence[3]}) >= 5  # regions
    assert any(agence[2] is None for agence in data["agence"])
    assert any(conseiller[1] is None for conseiller in data["conseiller"])
    assert any(jeune[1] is None for jeune in data["jeune"])
    changed = [jeune for jeune in data["jeune"] if jeune[1] and agence_of[jeune[1]] != agence_of[jeune[2]]]
    assert len(changed) >= 10
    assert any(tag == "DEMARCHES_IA" for tag, _ in data["feature_flip"])

    types = Counter(event[6] for event in events)
    assert set(types) == {"JEUNE", "CONSEILLER"}
    assert any(event[3] is None for event in events)  # action
    assert any(event[4] is None for event in events)  # nom
    assert any(event[7] is None for event in events)  # structure
    assert any(event[5] not in known_users for event in events)
    mondays = [
        event for event in events if event[1].astimezone(PARIS).replace(tzinfo=None) == datetime(2024, 3, 11)
    ]
    assert len(mondays) == 3
    assert data["log_api_partenaire"] and data["log_job"]


def test_plan_validation() -> None:
    with pytest.raises(ValueError, match="at least 12"):
        GenerationPlan(weeks=11)
    with pytest.raises(ValueError, match="Monday"):
        GenerationPlan(start_monday=date(2024, 3, 5))
    with pytest.raises(ValueError, match="time zone"):
        GenerationPlan(timezone="Mars/Olympus")
