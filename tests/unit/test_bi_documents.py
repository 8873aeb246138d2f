"""SQL rows into BI documents (pure): deterministic ids, periods, snapshots' as-of, risk flags."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from analytics.bi.documents import (
    COLLECTIONS,
    MONTHLY_SUBMISSIONS,
    QUARTERLY_FORM_CHURN,
    RISK_FLAGS,
    SECURITY_RISK_CLIENTS,
    SNAPSHOTS,
    TOP_USERS,
    to_document,
)


def test_the_seven_collections_and_their_index_keys():
    assert list(COLLECTIONS) == [
        "monthly_submissions", "monthly_sessions", "quarterly_form_churn",
        "institutions", "security_risk_clients", "forms", "top_users",
    ]  # fmt: skip
    assert SNAPSHOTS == ("institutions", "security_risk_clients", "forms", "top_users")
    for spec in COLLECTIONS.values():
        keys = {key if isinstance(key, str) else key[0][0] for key in spec.indexes}
        assert "institution_id" in keys or any(
            not isinstance(key, str) and ("institution_id", 1) in key for key in spec.indexes
        ), spec.name
        if spec.period_field:
            assert [(spec.period_field, 1), ("institution_id", 1)] in spec.indexes


def test_a_monthly_document_is_keyed_on_month_institution_and_form():
    row = {"institution_id": 4, "form_id": 17, "submissions": 3, "compliance_rate": Decimal("0.5")}
    document = to_document(MONTHLY_SUBMISSIONS, row, period="2024-03")
    assert document == {
        "_id": "2024-03|4|17",
        "month": "2024-03",
        "institution_id": 4,
        "form_id": 17,
        "submissions": 3,
        "compliance_rate": 0.5,
    }
    assert isinstance(document["compliance_rate"], float)
    assert to_document(MONTHLY_SUBMISSIONS, row, period="2024-03") == document  # same row, same id


def test_a_quarter_and_a_snapshot():
    churn = to_document(QUARTERLY_FORM_CHURN, {"institution_id": 2, "churn_rate": None}, period="2024-Q1")
    assert (churn["_id"], churn["quarter"], churn["churn_rate"]) == ("2024-Q1|2", "2024-Q1", None)
    as_of = datetime(2024, 4, 1, tzinfo=UTC)
    top = to_document(
        TOP_USERS, {"institution_id": 1, "rank": 2, "user_id": 9}, as_of_month="2024-03", as_of=as_of
    )
    assert (top["_id"], top["as_of_month"], top["as_of"]) == ("1|2", "2024-03", as_of)
    assert "month" not in top


def test_periods_are_required_exactly_where_they_belong():
    with pytest.raises(ValueError):
        to_document(MONTHLY_SUBMISSIONS, {"institution_id": 1, "form_id": 1})
    with pytest.raises(ValueError):
        to_document(TOP_USERS, {"institution_id": 1, "rank": 1}, period="2024-03")
    with pytest.raises(ValueError, match="without form_id"):
        to_document(MONTHLY_SUBMISSIONS, {"institution_id": 1, "form_id": None}, period="2024-03")


def test_risk_flags_are_listed_in_order_and_counted():
    row = {"institution_id": 3, "users": 4, **dict.fromkeys(RISK_FLAGS, False)}
    row.update(many_global_users=True, no_two_factor=True)
    document = to_document(SECURITY_RISK_CLIENTS, row, as_of_month="2024-03", as_of=None)
    assert document["flags"] == ["no_two_factor", "many_global_users"]
    assert document["risk_score"] == 2
    assert not set(RISK_FLAGS) & set(document)
    assert document["users"] == 4
