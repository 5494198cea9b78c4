"""The Quickstart's main job (`make run` runs scripts/quickstart.py after installing)."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import typing as t

import duckdb
import pytest

from tests.support.clock import NOW, RETENTION_START
from tests.support.endpoints import streams_with_rows
from tests.support.loaders import quickstart
from tests.support.paths import ROOT

if t.TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.e2e  # the Quickstart's Meltano runs, dbt and summary

#: The dbt models a FinOps team queries (transform/models/marts).
MODELS = ("cost_monthly", "cost_daily", "usage_daily", "unit_cost", "cost_by_tag", "focus")


def test_without_keys_it_extracts_from_the_simulator_and_prints_a_summary(tmp_path: t.Any) -> None:
    result = quickstart(tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert lines[0].startswith("No Datadog keys in the environment")
    assert "bundled Datadog API simulator at http://127.0.0.1:" in lines[0]
    assert lines[1] == f"Environment dev: into {tmp_path / 'costs.duckdb'}, schema datadog."
    # Datadog's answers name no currency: the tap's billing_currency setting (USD by default),
    # as the FOCUS rows carry it, heads every column of amounts.
    assert any(line.startswith("Datadog cost per month, in USD (") for line in lines)
    for heading in (
        r"  month +status +total USD  top products, USD",
        r"Cost per org, in USD \(",
        r"Top movers, .+, in USD, largest changes first:",
    ):
        assert re.search(f"^{heading}", result.stdout, re.MULTILINE), heading
    with duckdb.connect(str(tmp_path / "costs.duckdb"), read_only=True) as connection:
        (rows,) = connection.execute("select count(*) from datadog.hourly_usage").fetchone()  # type: ignore[misc]
        months = connection.execute(
            "select count(distinct month) from datadog.historical_costs"
        ).fetchone()[0]  # type: ignore[index]
    assert re.search(rf"^  hourly_usage +{rows:,}$", result.stdout, re.MULTILINE)
    tables = dict(
        re.findall(r"^  (\w+) +([\d,]+)$", result.stdout.split("Rows per table:")[1], re.MULTILINE)
    )
    with_rows = {name for name, count in tables.items() if count != "0"}
    assert with_rows == streams_with_rows(NOW, RETENTION_START)  # every stream reaches DuckDB
    cost_lines = [line.split() for line in lines if re.match(r"  20\d\d-\d\d ", line)]
    statuses = [line[1] for line in cost_lines]
    assert cost_lines[-1][0] == f"{NOW:%Y-%m}"  # the simulator it started ran at NOW too
    # Every historical month (final, or preliminary before the 17th), and this month's estimate.
    assert len(cost_lines) == months + 1
    assert set(statuses[:-1]) <= {"final", "preliminary"}
    assert statuses[-1] == "estimate"
    assert all(re.fullmatch(r"[\d,]+\.\d\d", line[2]) for line in cost_lines)  # to the cent
    assert any(line.startswith("  Acme Child 2 (child00002) ") for line in lines)  # per org
    # dbt built the models and every test passed; each model has rows.
    outcome = re.search(
        r"^  dbt: Done\. PASS=(\d+) WARN=0 ERROR=0 SKIP=0 ", result.stdout, re.MULTILINE
    )
    assert outcome, result.stdout[-2000:]
    assert int(outcome.group(1)) >= 127  # 20 models, 107 tests
    with duckdb.connect(str(tmp_path / "costs.duckdb"), read_only=True) as connection:
        for model in MODELS:
            (count,) = connection.execute(f"select count(*) from analytics.{model}").fetchone()  # type: ignore[misc]
            assert count > 0, model
    # The tap's lines, live: each stream's plan and summary, and progress of the long one.
    assert "  hourly_usage: first extract (no bookmark): " in result.stdout
    assert re.search(
        r"^  hourly_usage: [\d,]+/[\d,]+ windows \(\d+%\), ", result.stdout, re.MULTILINE
    )
    assert "First extract: no stream had a bookmark" in result.stdout
    assert re.search(
        rf"^  hourly_usage +{rows:,} rows read: \+{rows:,} in the table \({rows:,} now\); "
        r"bookmark \S+$",
        result.stdout,
        re.MULTILINE,
    )


def test_top_movers_compare_the_last_two_whole_months(tmp_path: t.Any) -> None:
    """Per org: the change of the last whole month on the one before, to the cent, largest first."""
    result = quickstart(tmp_path)
    assert result.returncode == 0, result.stdout[-3000:]
    header = re.search(
        r"^Top movers, (\S+) \((final|preliminary)\) against (\S+) \((final|preliminary)\)",
        result.stdout,
        re.MULTILINE,
    )
    assert header, result.stdout
    after, before = header.group(1), header.group(3)
    with duckdb.connect(str(tmp_path / "costs.duckdb"), read_only=True) as connection:
        totals = dict(
            connection.execute(  # type: ignore[arg-type]
                "select public_id || '@' || strftime(month, '%Y-%m'), sum(cost) "
                "from datadog.historical_costs where charge_type = 'total' group by all"
            ).fetchall()
        )
    section = result.stdout.split("  by org")[1].split("Rows per table:")[0].splitlines()[1:]
    changes = []
    for line in section:
        public_id = re.search(r"\((\w+)\)", line).group(1)  # type: ignore[union-attr]
        change = float(re.search(r"  ([+-][\d,]+\.\d\d) \(", line).group(1).replace(",", ""))  # type: ignore[union-attr]
        expected = totals[f"{public_id}@{after}"] - totals[f"{public_id}@{before}"]
        assert change == round(expected, 2), line
        changes.append(abs(change))
    assert changes == sorted(changes, reverse=True)
    assert len(changes) == 3


@pytest.fixture(scope="module")
def first_and_rerun(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, list[subprocess.CompletedProcess[str]]]:
    """A first `make run` and a re-run a minute later (a next run starts later), their folder."""
    folder = tmp_path_factory.mktemp("quickstart")
    runs = [quickstart(folder), quickstart(folder, now=NOW + dt.timedelta(minutes=1))]
    for run in runs:
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return folder, runs


def test_the_second_run_says_it_is_incremental_and_what_changed(
    first_and_rerun: tuple[Path, list[subprocess.CompletedProcess[str]]],
) -> None:
    _, (first, second) = first_and_rerun
    # Meltano's "No state was found, complete import." warning, said as what it means, once
    job = "dev:tap-datadog-costs-to-target-duckdb"
    assert f"  Meltano has no state for {job} yet: a first extract\n" in first.stdout
    assert "Meltano has no state" not in second.stdout
    assert "WARNING" not in first.stdout + second.stdout
    assert "Incremental run: each incremental stream resumed" in second.stdout
    assert "  hourly_usage: incremental from the bookmark " in second.stdout
    usage = re.search(
        r"^  hourly_usage +([\d,]+) rows read: \+0 in the table \(([\d,]+) now\), ([\d,]+) "
        r"merged into rows already there; bookmark (\S+) -> (\S+)$",
        second.stdout,
        re.MULTILINE,
    )
    assert usage, second.stdout
    assert usage.group(1) == usage.group(3)  # the look-back, re-read and merged on its keys


def test_one_key_alone_is_refused(tmp_path: t.Any) -> None:
    result = quickstart(tmp_path, TAP_DATADOG_COSTS_API_KEY="only-one")
    assert result.returncode == 2
    assert "set TAP_DATADOG_COSTS_APP_KEY too" in result.stdout
    assert "only-one" not in result.stdout + result.stderr


def test_make_install_shows_no_editable_install_banner(tmp_path: t.Any) -> None:
    """setuptools' note on editable installs, which pip shows even with --quiet, is not shown.

    The Makefile's own lines up to the editable install, as `make install` runs them (into a
    scratch venv; --no-deps, as the dependencies play no part in the note).
    """
    venv = tmp_path / "venv"
    dry_run = subprocess.run(
        # --no-print-directory: under `make e2e` this make is a sub-make, which would print
        # "make[1]: Entering directory" among the commands
        ["make", "--dry-run", "--always-make", "--no-print-directory", "install", f"VENV={venv}"],  # noqa: S607
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.splitlines()  # fmt: skip
    editable = next(i for i, line in enumerate(dry_run) if " -e " in line)
    script = "\n".join(["set -e", *dry_run[:editable], f"{dry_run[editable]} --no-deps"])
    result = subprocess.run(
        ["bash", "-c", script],  # noqa: S607
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    installed = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "show", "tap-datadog-costs"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert "Editable project location: " in installed.stdout  # the install took place
    assert "Editable installation" not in result.stdout + result.stderr
    assert "BuildBackendWarning" not in result.stdout + result.stderr


#: In the README's sample console, a line standing for lines left out.
LEFT_OUT = "..."
#: In a sample line, a placeholder for what differs from run to run (times, paths, the port).
PLACEHOLDER = re.compile(r"<[^<>]+>")


def readme_samples() -> list[list[str]]:
    """The console blocks of the README's "What you will see": a first run, then a re-run."""
    section = (ROOT / "README.md").read_text().split("### What you will see\n", 1)[1]
    section = section.split("\n## ", 1)[0]
    blocks = re.findall(r"^```text\n(.*?)^```", section, re.MULTILINE | re.DOTALL)
    return [block.splitlines() for block in blocks]


def first_not_in(sample: list[str], console: str) -> str | None:
    """The first sample line no line of ``console`` matches, in order (None: each one does)."""
    lines = iter(console.splitlines())
    for line in sample:
        if line.strip() == LEFT_OUT:
            continue
        pattern = ".+?".join(re.escape(part) for part in PLACEHOLDER.split(line.rstrip()))
        if not any(re.fullmatch(pattern, real.rstrip()) for real in lines):
            return line
    return None


def test_the_readmes_what_you_will_see_is_the_console_of_a_real_run(
    first_and_rerun: tuple[Path, list[subprocess.CompletedProcess[str]]],
) -> None:
    """Every line of each README sample, placeholders as patterns, in order in a real run's.

    The runs write to a folder of their own: its paths stand for the default ones.
    """
    folder, runs = first_and_rerun
    samples = readme_samples()
    assert len(samples) == len(runs)
    for sample, run in zip(samples, runs, strict=True):
        assert len([line for line in sample if line.strip() != LEFT_OUT]) >= 10, sample
        console = run.stdout.replace(
            str(folder / "costs.duckdb"), str(ROOT / "output" / "dev" / "datadog_costs.duckdb")
        ).replace(str(folder), str(ROOT / "output" / "dev"))
        assert first_not_in(sample, console) is None, console
