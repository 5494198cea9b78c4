"""FOCUS rows through the FinOps Foundation's focus-validator, rule by rule.

``validate`` writes rows to a CSV the validator reads as we mean it, runs
``scripts/check_focus.py`` in the validator's own Python 3.12 venv (``make focus-validator``
builds ``.venv-focus``; ``make e2e`` does it first), and returns every rule's result.
``failing_rules`` is what a test asserts empty: the failures that docs/focus.md's "Rules set
aside" table does not list for that version. A validator that cannot run fails the test with its
stderr: it never skips.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import subprocess
import tempfile
import typing as t
from decimal import Decimal
from pathlib import Path

import pytest

from tests.support.paths import ROOT

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

FOCUS_PYTHON = ROOT / ".venv-focus" / "bin" / "python"
CHECK_FOCUS = ROOT / "scripts" / "check_focus.py"
MODELS = ROOT / "tests" / "fixtures" / "focus"
FOCUS_DOC = ROOT / "docs" / "focus.md"
VERSIONS = ("1.2", "1.3")
SET_ASIDE_HEADING = "### Rules set aside"
#: Enough rules passed (of 578 in 1.2, 764 in 1.3; most are skipped: columns we do not have)
#: that a run which checks nothing, or the wrong thing, cannot pass.
AT_LEAST_PASSED = 100
#: FOCUS's DateTimeFormat: UTC, to the second, with a Z.
DATE_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


@dataclasses.dataclass(frozen=True)
class Rule:
    """One rule's result, as check_focus.py reports it."""

    rule_id: str
    status: str  # pass, fail or skip
    message: str
    must_satisfy: str | None
    error: str | None  # DuckDB's, when the rule's query could not run
    violations: int | None = None  # rows that break it

    def describe(self) -> str:
        reason = self.error.splitlines()[0] if self.error else self.message
        rows = f", {self.violations} rows" if self.violations and not self.error else ""
        return f"{self.rule_id}: {self.must_satisfy} ({reason}{rows})"


@dataclasses.dataclass(frozen=True)
class Validation:
    """Every rule of one FOCUS version on one set of rows."""

    version: str
    rows: int
    rules: dict[str, Rule]

    def with_status(self, status: str) -> list[Rule]:
        return [rule for rule in self.rules.values() if rule.status == status]

    def counts(self) -> dict[str, int]:
        return {status: len(self.with_status(status)) for status in ("pass", "fail", "skip")}


def csv_field(value: object) -> str:
    """One value as a CSV field the validator (Polars' reader) reads back as the same value.

    None is an empty, unquoted field (Polars' null); an empty string is quoted (``""``),
    which Polars keeps as an empty string, so the validator sees it and FOCUS's null handling
    can reject it. Objects (``Tags``) are JSON; date-times are FOCUS's ``...T...Z`` in UTC.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, dict | list):
        text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    elif isinstance(value, dt.datetime):
        if value.tzinfo is None:
            msg = f"a date-time without a time zone cannot be written as FOCUS's UTC: {value}"
            raise ValueError(msg)
        text = value.astimezone(dt.timezone.utc).strftime(DATE_TIME_FORMAT)
    elif isinstance(value, int | float | Decimal | str):
        text = str(value)
    else:
        msg = f"no CSV form for {type(value).__name__}: {value!r}"
        raise TypeError(msg)
    if text == "" or re.search(r'[,"\r\n]', text) or text != text.strip():
        return '"' + text.replace('"', '""') + '"'
    return text


def write_csv(rows: Sequence[Mapping[str, object]], path: Path) -> Path:
    """``rows`` (Singer records, or rows read from a table) as a CSV, every row's columns."""
    if not rows:
        msg = "no rows to validate: a run that checks nothing must not pass"
        raise ValueError(msg)
    columns = list(rows[0])
    lines = [",".join(columns)]
    for row in rows:
        if list(row) != columns:
            msg = f"rows with different columns: {columns} and {list(row)}"
            raise ValueError(msg)
        lines.append(",".join(csv_field(row[column]) for column in columns))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def validate(data: Sequence[Mapping[str, object]] | Path, version: str) -> Validation:
    """Every rule of FOCUS ``version`` on ``data`` (rows, or a CSV file already written)."""
    if not FOCUS_PYTHON.exists():
        pytest.fail(f"{FOCUS_PYTHON} is missing: run `make focus-validator` (make e2e does)")
    with tempfile.TemporaryDirectory(prefix="focus-rows-") as scratch:
        csv_file = data if isinstance(data, Path) else write_csv(data, Path(scratch, "rows.csv"))
        done = subprocess.run(
            [
                str(FOCUS_PYTHON),
                str(CHECK_FOCUS),
                "--data-file",
                str(csv_file),
                "--version",
                version,
            ],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    if done.returncode != 0:
        pytest.fail(f"focus-validator {version} failed (exit {done.returncode}):\n{done.stderr}")
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"focus-validator {version} wrote no JSON:\n{done.stdout}\n{done.stderr}")
    rules = {
        rule_id: Rule(
            rule_id=rule_id,
            status=result["status"],
            message=result["message"],
            must_satisfy=result["must_satisfy"],
            error=result["error"],
            violations=result["violations"],
        )
        for rule_id, result in report["rules"].items()
    }
    return Validation(version=version, rows=report["rows"], rules=rules)


def set_aside(text: str | None = None) -> dict[tuple[str, str], str]:
    """docs/focus.md's "Rules set aside" table: (version, rule id) -> reason."""
    text = FOCUS_DOC.read_text(encoding="utf-8") if text is None else text
    if SET_ASIDE_HEADING not in text:
        msg = f"{FOCUS_DOC} has no {SET_ASIDE_HEADING!r} section"
        raise ValueError(msg)
    section = text.split(SET_ASIDE_HEADING, 1)[1].split("\n#", 1)[0]
    table = [line for line in section.splitlines() if line.startswith("|")]
    header = [cell.strip().lower() for cell in table[0].strip("|").split("|")]
    if header != ["version", "rule id", "reason"] or not re.fullmatch(r"[|\s:-]+", table[1]):
        msg = f"the set-aside table's header must be | Version | Rule id | Reason |: {table[:2]}"
        raise ValueError(msg)
    entries: dict[tuple[str, str], str] = {}
    for line in table[2:]:
        version, rule_id, reason = (cell.strip().strip("`") for cell in line.strip("|").split("|"))
        if version not in VERSIONS or not reason:
            msg = f"a set-aside rule needs a version ({' or '.join(VERSIONS)}) and a reason: {line}"
            raise ValueError(msg)
        entries[version, rule_id] = reason
    return entries


def failing_rules(
    validation: Validation, aside: Iterable[tuple[str, str]] | None = None
) -> list[str]:
    """The failing rules not set aside for this version, each with what it requires and why it
    failed: what a test asserts is empty."""
    aside = set(set_aside() if aside is None else aside)
    return sorted(
        rule.describe()
        for rule in validation.with_status("fail")
        if (validation.version, rule.rule_id) not in aside
    )


def stale_set_asides(validation: Validation) -> list[str]:
    """Rules set aside for this version that did not fail (or that its model does not have):
    the table says more than is true."""
    return sorted(
        rule_id
        for version, rule_id in set_aside()
        if version == validation.version
        and getattr(validation.rules.get(rule_id), "status", None) != "fail"
    )


def assert_accepted(
    data: Sequence[Mapping[str, object]] | Path, versions: Sequence[str] = VERSIONS
) -> None:
    """For each FOCUS version, no rule fails on ``data`` but those set aside, enough rules
    passed, and every rule set aside does fail (else the table is out of date). Every version
    is run before any is judged, so a failure names them all."""
    problems = []
    for version in versions:
        validation = validate(data, version)
        problems += [f"FOCUS {version}: {failing}" for failing in failing_rules(validation)]
        if validation.counts()["pass"] <= AT_LEAST_PASSED:
            problems.append(f"FOCUS {version}: too few rules passed: {validation.counts()}")
        problems += [
            f"FOCUS {version}: set aside, yet not failing: {rule_id}"
            for rule_id in stale_set_asides(validation)
        ]
    assert problems == [], f"{len(problems)} problems:\n" + "\n".join(problems)
