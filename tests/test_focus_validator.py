"""focus_costs rows as the FinOps Foundation's own focus-validator judges them, FOCUS 1.2 and 1.3.

Every rule of each version's requirements model runs on the rows (tests/support/focus.py,
scripts/check_focus.py); none may fail unless docs/focus.md's "Rules set aside" table names it.
The dbt ``focus`` model's table is validated the same way, on DuckDB and PostgreSQL, in
tests/test_meltano.py. The last tests check the CSV and the table without the validator.
"""

from __future__ import annotations

import datetime as dt
import json
import typing as t

import pytest

from simulator import DatadogSimulator
from tests.support.clock import NOW
from tests.support.focus import (
    MODELS,
    VERSIONS,
    Rule,
    Validation,
    assert_accepted,
    csv_field,
    failing_rules,
    set_aside,
    validate,
    write_csv,
)
from tests.support.running import selecting, sync
from tests.support.settings import tap_config

if t.TYPE_CHECKING:
    from pathlib import Path

#: From June to NOW (2026-11-10): June to September are final, October is preliminary (its
#: historical cost is published on the 3rd, final from the 17th), November is an estimate.
START = "2026-06-01T00:00:00Z"
UTC = dt.timezone.utc


#: A child's September APM on-demand charge is a credit (a negative charge).
CREDITED = {
    "org": "child00001",
    "product": "apm_host",
    "month": dt.datetime(2026, 9, 1, tzinfo=UTC),
}


@pytest.fixture(scope="module")
def rows() -> list[dict[str, t.Any]]:
    """The focus_costs stream's records, one run at NOW over final, preliminary and estimated
    months, with a credit."""
    with DatadogSimulator(now=NOW) as sim:
        sim.credit(**CREDITED)
        config = tap_config(sim.url, start_date=START)
        result = sync(config, catalog=selecting(config, ("focus_costs",)), now=NOW)
    return t.cast("list[dict[str, t.Any]]", result.records("focus_costs"))


@pytest.mark.e2e
def test_the_run_covers_final_preliminary_and_estimated_months(
    rows: list[dict[str, t.Any]],
) -> None:
    assert {row["x_CostStatus"] for row in rows} == {"final", "preliminary", "estimate"}


@pytest.mark.e2e
def test_the_run_has_a_credit(rows: list[dict[str, t.Any]]) -> None:
    """A credit (a negative charge) is validated too."""
    assert [row["ChargeCategory"] for row in rows if row["BilledCost"] < 0] == ["Credit"]


@pytest.mark.e2e
@pytest.mark.parametrize("version", VERSIONS)
def test_focus_validator_accepts_the_stream_rows(
    rows: list[dict[str, t.Any]], version: str
) -> None:
    assert_accepted(rows, (version,))


#: Conditional columns we do not have, which rules set aside read without depending on them.
ABSENT_COLUMNS = ("CommitmentDiscountStatus", "ContractedUnitPrice")


@pytest.mark.e2e
@pytest.mark.parametrize("version", VERSIONS)
def test_rules_set_aside_for_a_column_we_lack_pass_once_it_is_there_and_null(
    rows: list[dict[str, t.Any]], version: str
) -> None:
    """A rule set aside for reading an absent column hides no failure of ours: with the column
    present and null (what its absence means: no commitment discount, no contracted unit
    price), it passes. Only the rules set aside for another reason still fail."""
    validation = validate([{**row, **dict.fromkeys(ABSENT_COLUMNS)} for row in rows], version)
    still_failing = {rule.rule_id for rule in validation.with_status("fail")}
    assert still_failing == ({"InvoiceId-C-005-C"} if version == "1.2" else set())
    aside = {rule_id for v, rule_id in set_aside() if v == version}
    assert aside - still_failing <= {
        rule.rule_id for rule in validation.with_status("pass")
    }  # each of the others now runs, and passes
    if version == "1.2":  # InvoiceId: null, or not null on an invoiced charge: the rule itself
        assert validation.rules["InvoiceId-C-003-C"].status == "pass"


# Without the validator: the CSV it reads, and the table of rules set aside.


def test_the_csv_keeps_null_apart_from_an_empty_string_and_writes_focus_values(
    tmp_path: Path,
) -> None:
    start = dt.datetime(2026, 6, 1, 2, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    row = {
        "ChargeClass": None,
        "InvoiceId": "",
        "Tags": {"team": "a,b", "env": 'say "hi"'},
        "BillingPeriodStart": start,
        "BilledCost": -1.5,
        "ServiceName": "infra_host",
    }
    written = write_csv([row], tmp_path / "rows.csv").read_text()
    assert written.splitlines() == [
        "ChargeClass,InvoiceId,Tags,BillingPeriodStart,BilledCost,ServiceName",
        ',"","{""env"":""say \\""hi\\"""",""team"":""a,b""}",2026-06-01T00:00:00Z,-1.5,infra_host',
    ]
    assert csv_field(" padded") == '" padded"'
    with pytest.raises(ValueError, match="time zone"):
        csv_field(dt.datetime(2026, 6, 1))  # noqa: DTZ001
    with pytest.raises(ValueError, match="checks nothing"):
        write_csv([], tmp_path / "empty.csv")


SET_ASIDE = """
### Rules set aside

| Version | Rule id | Reason |
|---|---|---|
| 1.3 | `CAU-ContractedCost-C-011-C` | reads ContractedUnitPrice |

## Next
"""


def test_the_set_aside_table_is_read_by_version_and_rule() -> None:
    assert set_aside(SET_ASIDE) == {
        ("1.3", "CAU-ContractedCost-C-011-C"): "reads ContractedUnitPrice"
    }
    with pytest.raises(ValueError, match="a version"):
        set_aside(SET_ASIDE.replace("| 1.3 |", "| 1.4 |"))
    with pytest.raises(ValueError, match="header"):
        set_aside(SET_ASIDE.replace("| Reason |", "| Why |"))
    with pytest.raises(ValueError, match="no '### Rules set aside'"):
        set_aside("# FOCUS\n")


def test_every_rule_set_aside_in_docs_focus_md_is_a_rule_of_its_version() -> None:
    entries = set_aside()
    assert entries, "docs/focus.md's table of rules set aside is empty or missing"
    for version, rule_id in entries:
        (model,) = MODELS.glob(f"model-{version}*.json")
        assert rule_id in json.loads(model.read_text())["ModelRules"], (version, rule_id)


def test_failing_rules_leaves_out_only_what_is_set_aside_for_that_version() -> None:
    def rule(rule_id: str, status: str) -> Rule:
        return Rule(rule_id, status, "failed", f"{rule_id} MUST hold.", None)

    validation = Validation(
        version="1.3",
        rows=1,
        rules={r.rule_id: r for r in (rule("A-C-000-M", "fail"), rule("B-C-000-M", "fail"))},
    )
    aside = {("1.3", "A-C-000-M"), ("1.2", "B-C-000-M")}
    assert failing_rules(validation, aside) == ["B-C-000-M: B-C-000-M MUST hold. (failed)"]
