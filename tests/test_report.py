"""The cost report (`make run` writes it beside the DuckDB file), opened in a real browser.

Headless Chromium (Debian's `chromium`; .ci/run installs it) loads the file with no network,
runs its scripts for a few seconds of virtual time, and hands back the DOM it drew: each chart
must have drawn as many marks (bars, lines) as the database says, and a screenshot is saved to
output/test/report.png.
"""

from __future__ import annotations

import datetime as dt
import html.parser
import re
import shutil
import struct
import subprocess
import typing as t

import duckdb
import pytest

from tests.harness import ROOT, quickstart

if t.TYPE_CHECKING:
    from pathlib import Path

SCREENSHOT = ROOT / "output" / "test" / "report.png"
#: When `make run` runs here: after the 12th, when Datadog has this month's projection to draw.
AT = dt.datetime(2026, 11, 20, 12, tzinfo=dt.timezone.utc)
WIDTH, HEIGHT = 1280, 2600
#: The most products and orgs the report names before it adds up the rest (transform's vars).
TOP_PRODUCTS, TOP_ORGS, TOP_MOVERS = 7, 9, 5
#: HTML elements that have no end tag.
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


def chromium(*args: str) -> subprocess.CompletedProcess[str]:
    """Headless Chromium (as root it needs --no-sandbox); scripts get 5 s of virtual time."""
    browser = shutil.which("chromium")
    if browser is None:
        pytest.fail("chromium is not installed: apt-get install chromium (.ci/run does)")
    return subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--window-size={WIDTH},{HEIGHT}", "--virtual-time-budget=5000", *args],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip


class Marks(html.parser.HTMLParser):
    """What each chart (an element with an id ``chart-...``) drew, from the rendered DOM."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str | None] = []  # per open element: the chart it is in, if any
        self.bars: dict[str, int] = {}
        self.lines: dict[str, int] = {}
        self.markers: dict[str, int] = {}
        self.tall: dict[str, int] = {}  # bars higher than 0
        self.errors: list[str] = []
        self.cells: dict[str, list[list[str]]] = {}  # table id -> rows of cell text
        self.table: str | None = None
        self.rendered = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        classes = set((attributes.get("class") or "").split())
        element_id = attributes.get("id") or ""
        chart = self.stack[-1] if self.stack else None
        if element_id.startswith("chart-"):
            chart = element_id
            for counts in (self.bars, self.tall, self.lines, self.markers):
                counts[chart] = 0
        if tag == "body":
            self.rendered = attributes.get("data-rendered") == "true"
        if "chart-error" in classes:
            self.errors.append(chart or "?")
        if chart:
            self.count_mark(chart, tag, classes, attributes.get("height"))
        self.read_table(tag, element_id)
        if tag not in VOID:
            self.stack.append(chart)

    def count_mark(self, chart: str, tag: str, classes: set[str], height: str | None) -> None:
        """A bar, a line, or a y marker (dashed: grid lines are not)."""
        if tag == "rect" and "bar" in classes:
            self.bars[chart] += 1
            self.tall[chart] += float(height or 0) > 0
        elif tag == "path" and "line-graph-path" in classes:
            self.lines[chart] += 1
        elif tag == "line" and {"line-horizontal", "dashed"} <= classes:
            self.markers[chart] += 1

    def read_table(self, tag: str, element_id: str) -> None:
        """Tables, rows and cells, for their text."""
        if tag == "table":
            self.table = element_id
            self.cells[element_id] = []
        elif tag == "tr" and self.table:
            self.cells[self.table].append([])
        elif tag in {"td", "th"} and self.table:
            self.cells[self.table][-1].append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self.table = None
        if tag not in VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if self.table and self.cells[self.table] and self.cells[self.table][-1]:
            self.cells[self.table][-1][-1] += data


def one(connection: duckdb.DuckDBPyConnection, query: str) -> t.Any:
    (value,) = connection.execute(query).fetchone()  # type: ignore[misc]
    return value


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, Marks]:
    """`make run`'s script once: its output, the report file and what Chromium drew of it."""
    tmp_path = tmp_path_factory.mktemp("report")
    result = quickstart(tmp_path, now=AT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    page = tmp_path / "report.html"
    marks = Marks()
    marks.feed(chromium("--dump-dom", page.as_uri()).stdout)
    return tmp_path, result.stdout, marks


def test_the_run_ends_by_naming_the_report_file(report: tuple[Path, str, Marks]) -> None:
    tmp_path, stdout, _ = report
    last = stdout.rstrip().splitlines()[-1]
    assert last == f"Report: {tmp_path / 'report.html'} (open it in a browser; it needs no network)"


def test_the_report_is_one_file_that_needs_no_network(report: tuple[Path, str, Marks]) -> None:
    page = (report[0] / "report.html").read_text()
    assert not re.search(r"<(link|img|iframe)\b|\bsrc\s*=|@import|url\(\s*['\"]?http", page)
    # Only the SVG and XLink namespace names are addresses, and nothing is fetched from them.
    assert set(re.findall(r"https?://[^\s\"'<>)]+", page)) <= {
        "http://www.w3.org/2000/svg",
        "http://www.w3.org/1999/xlink",
    }


def test_every_chart_drew_as_many_marks_as_the_database_has(
    report: tuple[Path, str, Marks],
) -> None:
    tmp_path, _, marks = report
    with duckdb.connect(str(tmp_path / "costs.duckdb"), read_only=True) as db:
        months = one(db, "select count(distinct month) from analytics.cost_monthly")
        products = one(db, "select count(distinct product_name) from analytics.cost_monthly")
        orgs = one(db, "select count(distinct public_id) from analytics.cost_monthly")
        days = one(
            db,
            "select extract(day from last_day(max(month))) from datadog.daily_costs",
        )
        days_read = one(
            db,
            "select count(distinct date) from datadog.daily_costs "
            "where month = (select max(month) from datadog.daily_costs)",
        )
        costs = one(
            db,
            "select count(*) from (select month, product_name from analytics.cost_monthly "
            "group by all having sum(total_cost) <> 0) as costs",
        )
        org_costs = one(
            db,
            "select count(*) from (select month, public_id from analytics.cost_monthly "
            "group by all having sum(total_cost) <> 0) as costs",
        )
        projected = one(
            db,
            "select count(*) > 0 from datadog.projected_costs "
            "where month = (select max(month) from datadog.daily_costs)",
        )
    assert marks.rendered
    assert not marks.errors
    product_groups = min(products, TOP_PRODUCTS + 1)  # the largest, then `other products`
    org_groups = min(orgs, TOP_ORGS + 1)
    assert (months >= 13, products >= 3, orgs >= 3) == (True, True, True)  # the simulator's
    assert projected  # from the 12th (AT): the projection's line and marker are drawn
    assert marks.bars == {
        "chart-months": months * product_groups,  # a stacked bar per month and product
        "chart-orgs": months * org_groups,
        "chart-daily": days,  # a bar per day of this month, 0 after the last day read
        "chart-projection": 0,
        "chart-movers-product": min(products, TOP_MOVERS),
        "chart-movers-org": min(orgs, TOP_MOVERS),
    }
    # Each bar has its height from its value: a chart fed the wrong field draws flat bars.
    assert (products, orgs) == (product_groups, org_groups)  # no `other` group here
    assert marks.tall == {
        **marks.bars,
        "chart-months": costs,
        "chart-orgs": org_costs,
        "chart-daily": days_read,
    }
    assert marks.lines["chart-projection"] == 1 + projected  # spend to date, the projection
    assert marks.markers["chart-projection"] == projected  # the projected month total
    assert {chart for chart, count in marks.lines.items() if count} == {"chart-projection"}


def test_the_tables_show_the_models_numbers(report: tuple[Path, str, Marks]) -> None:
    tmp_path, _, marks = report
    with duckdb.connect(str(tmp_path / "costs.duckdb"), read_only=True) as db:
        totals = db.execute(
            "select strftime(month, '%Y-%m'), max(cost_status), sum(total_cost) "
            "from analytics.cost_monthly group by month order by month desc"
        ).fetchall()
        units = one(db, "select count(distinct product_name) from analytics.report_unit_cost")
    header, *rows = marks.cells["table-months"]
    assert header == ["month", "status", "total", "orgs"]
    assert [row[:3] for row in rows] == [
        [month, status, f"{total:,.2f}"] for month, status, total in totals
    ]
    assert len(marks.cells["table-unit-cost"]) == 1 + units


def test_a_screenshot_of_the_report(report: tuple[Path, str, Marks]) -> None:
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    SCREENSHOT.unlink(missing_ok=True)
    chromium(f"--screenshot={SCREENSHOT}", (report[0] / "report.html").as_uri())
    png = SCREENSHOT.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == (WIDTH, HEIGHT)
    assert len(png) > 100_000  # charts and tables, not a blank page
