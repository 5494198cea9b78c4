"""Data rules: summaries and totals add up, the month calendar, projections, revisions."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from simulator import (
    PARENT_ID,
    DatadogSimulator,
)
from simulator.data import Account
from tests.simulator.common import (
    NOW,
    UTC,
    call,
    usage_over_http,
)
from tests.support.endpoints import HISTORICAL, PROJECTED


def test_summary_sums_the_orgs_and_totals_add_up(api: DatadogSimulator) -> None:
    sub_org = api.expected_costs("historical", "2024-01", "2024-01", "sub-org")
    summary = api.expected_costs("historical", "2024-01", "2024-01", "summary")
    assert {row["public_id"] for row in summary} == {PARENT_ID}
    for row in summary:
        parts = [
            r["cost"]
            for r in sub_org
            if (r["product_name"], r["charge_type"]) == (row["product_name"], row["charge_type"])
        ]
        assert row["cost"] == round(sum(parts), 2)
        assert row["total_cost"] == round(
            sum(r["cost"] for r in summary if r["charge_type"] == "total"), 2
        )
    for org_rows in (
        [r for r in sub_org if r["public_id"] == org] for org in {r["public_id"] for r in sub_org}
    ):
        for product in {r["product_name"] for r in org_rows}:
            cost = {r["charge_type"]: r["cost"] for r in org_rows if r["product_name"] == product}
            assert cost["total"] == round(cost["committed"] + cost["on_demand"], 2)


def test_historical_month_calendar() -> None:
    def months(now: datetime) -> list[str]:
        return [month.strftime("%Y-%m") for month in Account(now).cost_months("historical")][-2:]

    assert months(datetime(2024, 3, 2, 23, tzinfo=UTC)) == ["2023-12", "2024-01"]
    assert months(datetime(2024, 3, 3, tzinfo=UTC)) == ["2024-01", "2024-02"]
    assert not Account(datetime(2024, 3, 16, 23, tzinfo=UTC)).is_final("2024-02")
    assert Account(datetime(2024, 3, 17, tzinfo=UTC)).is_final("2024-02")


def test_old_months_come_back_with_odd_hours(api: DatadogSimulator) -> None:
    items = call(api, HISTORICAL, {"start_month": "2023-02", "end_month": "2023-09"}).json()["data"]
    dates = [item["attributes"]["date"] for item in items]
    assert dates[:2] == ["2023-02-15T13:00:00+00:00", "2023-03"]  # odd hours; month only
    assert dates[-1] == "2023-09-01T00:00:00+00:00"
    assert call(api, PROJECTED).json()["data"] == []  # the 10th: no projection yet


def test_projected_cost_comes_from_the_12th_dated_the_last_day() -> None:
    with DatadogSimulator(now=datetime(2024, 3, 12, tzinfo=UTC)) as sim:
        projected = call(sim, PROJECTED).json()["data"]
    assert [item["attributes"]["date"] for item in projected] == ["2024-03-31T00:00:00Z"]


def test_revise_changes_late_data_estimates_and_this_months_mapping() -> None:
    with DatadogSimulator(now=NOW) as sim:
        start = NOW - timedelta(hours=80)
        before_usage = {
            (r["timestamp"], r["public_id"], r["usage_type"]): r["value"]
            for r in sim.expected_hourly_usage(start, NOW)
        }
        before = {
            kind: sim.expected_costs(kind, "2024-01", "2024-03", "sub-org")
            for kind in ("historical", "estimated")
        }
        sim.revise()
        assert sim.generation == 1
        after_usage = usage_over_http(sim, NOW - timedelta(hours=24), NOW)
        assert after_usage == sim.expected_hourly_usage(NOW - timedelta(hours=24), NOW)
        assert {r["timestamp"] for r in after_usage} >= {
            (NOW - timedelta(hours=h)).isoformat() for h in (1, 2, 3)
        }
        revised = {
            (r["timestamp"], r["public_id"], r["usage_type"]): r["value"]
            for r in sim.expected_hourly_usage(start, NOW)
        }
        late = (NOW - timedelta(hours=72)).isoformat()
        for key, value in before_usage.items():
            if value is not None:
                assert revised[key] == value + (1 if key[0] >= late else 0)
        after = {
            kind: sim.expected_costs(kind, "2024-01", "2024-03", "sub-org")
            for kind in ("historical", "estimated")
        }
        for kind, shift in (("historical", -1.0), ("estimated", 0.25)):
            for old, new in zip(before[kind], after[kind], strict=True):
                final_month = kind == "historical" and sim.is_final(old["month"])
                moved = (
                    shift if old["charge_type"] in ("on_demand", "total") and not final_month else 0
                )
                if kind == "estimated" and old["month"].startswith("2024-03"):
                    moved *= 10 / 31  # this month's estimate: the 10 days so far of 31
                assert new["cost"] == pytest.approx(old["cost"] + moved, abs=0.011)
        keys = sim.expected_mappings("2024-03")[0]["keys"]
        assert keys[-1] == "gen1"
        assert "gen1" not in sim.expected_mappings("2024-02")[0]["keys"]


def test_a_credited_line_is_a_negative_on_demand_charge_in_every_cost_answer() -> None:
    """``credit`` turns a line's on-demand charge negative (the same amount) in historical and
    estimated cost, per org and in the summary, and the totals still add up."""
    month = datetime(2023, 12, 1, tzinfo=UTC)
    with DatadogSimulator(now=NOW) as sim:
        before = sim.expected_costs("historical", "2023-12", "2023-12", "sub-org")
        sim.credit(org="child00001", product="apm_host", month=month)
        after = sim.expected_costs("historical", "2023-12", "2023-12", "sub-org")
        served = call(
            sim, HISTORICAL, {"start_month": "2023-12", "end_month": "2023-12", "view": "sub-org"}
        ).json()
    changed = {
        (b["public_id"], b["product_name"], b["charge_type"]): (b["cost"], a["cost"])
        for b, a in zip(before, after, strict=True)
        if b["cost"] != a["cost"]
    }
    assert set(changed) == {
        ("child00001", "apm_host", "on_demand"),
        ("child00001", "apm_host", "total"),
    }
    was, now = changed[("child00001", "apm_host", "on_demand")]
    assert now == -was < 0
    charges = {
        (item["attributes"]["public_id"], c["product_name"], c["charge_type"]): c["cost"]
        for item in served["data"]
        for c in item["attributes"]["charges"]
    }
    assert charges[("child00001", "apm_host", "on_demand")] == now
