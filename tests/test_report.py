"""The cost report (`make run` writes it beside the DuckDB file), opened in a real browser.

Headless Chromium (Debian's `chromium`; .ci/run installs it) loads the file with no network,
runs its scripts for a few seconds of virtual time, and hands back the DOM it drew: each chart
must have drawn as many marks (bars, lines) as the database says, and a screenshot is saved to
output/test/report.png. The Quickstart runs at fixed instants (libfaketime, through
``quickstart(now=...)``), after the 12th of a month (Datadog's projection published) and before
it, so no test depends on today's date.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html.parser
import re
import shutil
import struct
import subprocess
import typing as t

import duckdb
import pytest

from tests.support.endpoints import PROJECTED_FROM_DAY
from tests.support.loaders import quickstart
from tests.support.paths import ROOT

pytestmark = pytest.mark.e2e  # the Quickstart, then the report in headless Chromium

if t.TYPE_CHECKING:
    from pathlib import Path

SCREENSHOT = ROOT / "output" / "test" / "report.png"
WIDTH, HEIGHT = 1280, 2600
#: The most products and orgs the report names before it adds up the rest (transform's vars).
TOP_PRODUCTS, TOP_ORGS, TOP_MOVERS = 7, 9, 5
#: When the Quickstart runs (UTC): after the 12th, with Datadog's projection of the month, and
#: before it, without; both in a month in progress, read mid-day (a partial day).
INSTANTS = {
    "after-the-12th": dt.datetime(2026, 11, 20, 15, tzinfo=dt.timezone.utc),
    "before-the-12th": dt.datetime(2026, 11, 7, 15, tzinfo=dt.timezone.utc),
}
#: A number as an axis shows it: thousands separated by commas.
AXIS_NUMBER = re.compile(r"-?\d{1,3}(,\d{3})*(\.\d+)?")
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


@dataclasses.dataclass
class Frame:
    """An open element: the chart it is in, whether in a y axis, the ids around it."""

    chart: str | None = None
    axis: str | None = None  # "x" or "y"
    ids: tuple[str, ...] = ()  # its id and its ancestors'
    entry: tuple[str, int] | None = None  # the card or legend entry it is in: (list id, index)


class Marks(html.parser.HTMLParser):
    """What each chart (an element with an id ``chart-...``) drew, from the rendered DOM."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[Frame] = []  # per open element
        self.bars: dict[str, int] = {}
        self.lines: dict[str, int] = {}
        self.markers: dict[str, int] = {}
        self.tall: dict[str, int] = {}  # bars higher than 0
        self.errors: list[str] = []
        self.cells: dict[str, list[list[str]]] = {}  # table id -> rows of cell text
        self.table: str | None = None
        self.rendered = False
        self.texts: dict[str, list[str]] = {}  # chart -> its SVG texts but the axes'
        self.ticks: dict[str, list[str]] = {}  # chart -> its y axis's tick labels
        self.labels: dict[str, list[str]] = {}  # chart -> its x axis's labels
        self.units: dict[str, list[str]] = {}  # chart -> what its y axis counts in
        self.paths: dict[str, list[str]] = {}  # chart -> each line's path (`d`)
        self.partial: dict[str, list[str]] = {}  # chart -> the tags marked partial (class)
        self.entries: dict[str, list[str]] = {}  # list id -> its entries' text (cards, legends)
        self.text: dict[str, str] = {}  # element id -> all the text inside it
        self.svg_text: tuple[dict[str, list[str]], str] | None = None  # an SVG <text> open

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        classes = set((attributes.get("class") or "").split())
        element_id = attributes.get("id") or ""
        frame = dataclasses.replace(self.stack[-1]) if self.stack else Frame()
        axis = next((name for name in ("x", "y") if {name, "axis"} <= classes), None)
        frame.axis = frame.axis or axis
        if element_id:
            frame.ids = (*frame.ids, element_id)
            self.text[element_id] = ""
        if element_id.startswith("chart-"):
            frame.chart = element_id
            for counts in (self.bars, self.tall, self.lines, self.markers):
                counts[element_id] = 0
            for found in (
                self.texts,
                self.ticks,
                self.labels,
                self.units,
                self.paths,
                self.partial,
            ):
                found[element_id] = []
        if classes & {"card", "legend-entry"} and frame.ids:
            entries = self.entries.setdefault(frame.ids[-1], [])
            entries.append("")
            frame.entry = (frame.ids[-1], len(entries) - 1)
        if tag == "body":
            self.rendered = attributes.get("data-rendered") == "true"
        if "chart-error" in classes:
            self.errors.append(frame.chart or "?")
        if frame.chart:
            self.count_mark(frame.chart, tag, classes, attributes.get("height"))
            self.read_chart(frame, tag, classes, attributes)
        self.read_table(tag, element_id)
        if tag not in VOID:
            self.stack.append(frame)

    def count_mark(self, chart: str, tag: str, classes: set[str], height: str | None) -> None:
        """A bar, a line, or a y marker (dashed: grid lines are not)."""
        if tag == "rect" and "bar" in classes:
            self.bars[chart] += 1
            self.tall[chart] += float(height or 0) > 0
        elif tag == "path" and "line-graph-path" in classes:
            self.lines[chart] += 1
        elif tag == "line" and {"line-horizontal", "dashed"} <= classes:
            self.markers[chart] += 1

    def read_chart(
        self, frame: Frame, tag: str, classes: set[str], attributes: dict[str, str | None]
    ) -> None:
        """A chart's texts (its y axis's ticks and unit apart), lines and partial-day marks."""
        chart, index = t.cast("str", frame.chart), attributes.get("data-point-index")
        if tag == "text":
            axes = {"y": self.ticks, "x": self.labels, None: self.texts}
            found = self.units if "axis-currency" in classes else axes[frame.axis]
            found[chart].append("")
            self.svg_text = (found, chart)
        elif tag == "path" and "line-graph-path" in classes:
            self.paths[chart].append(attributes.get("d") or "")
        if "partial" in classes:
            self.partial[chart].append(f"{tag}:{index}" if index else tag)

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
        if tag == "text":
            self.svg_text = None
        if tag not in VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if self.table and self.cells[self.table] and self.cells[self.table][-1]:
            self.cells[self.table][-1][-1] += data
        if self.svg_text:
            found, chart = self.svg_text
            found[chart][-1] += data
        frame = self.stack[-1] if self.stack else Frame()
        for element_id in frame.ids:
            self.text[element_id] += data
        if frame.entry:
            self.entries[frame.entry[0]][frame.entry[1]] += data


def one(connection: duckdb.DuckDBPyConnection, query: str) -> t.Any:
    (value,) = connection.execute(query).fetchone()  # type: ignore[misc]
    return value


@dataclasses.dataclass
class Report:
    """One run of `make run`'s script: where, when, what it printed and what Chromium drew."""

    path: Path  # the run's folder: costs.duckdb, report.html
    instant: dt.datetime
    stdout: str
    marks: Marks

    def db(self) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(self.path / "costs.duckdb"), read_only=True)


@pytest.fixture(scope="module", params=list(INSTANTS))
def report(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Report:
    """`make run`'s script once per instant: its output, the report file and what Chromium drew."""
    tmp_path = tmp_path_factory.mktemp("report")
    instant = INSTANTS[request.param]
    result = quickstart(tmp_path, now=instant)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    page = tmp_path / "report.html"
    marks = Marks()
    marks.feed(chromium("--dump-dom", page.as_uri()).stdout)
    return Report(tmp_path, instant, result.stdout, marks)


def test_the_run_ends_by_naming_the_report_file(report: Report) -> None:
    last = report.stdout.rstrip().splitlines()[-1]
    assert (
        last == f"Report: {report.path / 'report.html'} (open it in a browser; it needs no network)"
    )


def test_the_report_is_one_file_that_needs_no_network(report: Report) -> None:
    page = (report.path / "report.html").read_text()
    assert not re.search(r"<(link|img|iframe)\b|\bsrc\s*=|@import|url\(\s*['\"]?http", page)
    # Only the SVG and XLink namespace names are addresses, and nothing is fetched from them.
    assert set(re.findall(r"https?://[^\s\"'<>)]+", page)) <= {
        "http://www.w3.org/2000/svg",
        "http://www.w3.org/1999/xlink",
    }


def test_every_chart_drew_as_many_marks_as_the_database_has(report: Report) -> None:
    marks = report.marks
    with report.db() as db:
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
    assert projected == (report.instant.day >= PROJECTED_FROM_DAY)  # the simulator's rule
    assert marks.lines["chart-projection"] == 1 + projected  # spend to date, the projection
    assert marks.markers["chart-projection"] == projected  # the projected month total
    assert {chart for chart, count in marks.lines.items() if count} == {"chart-projection"}


def test_the_tables_show_the_models_numbers(report: Report) -> None:
    marks = report.marks
    currency = billing_currency(report)
    with report.db() as db:
        totals = db.execute(
            "select strftime(month, '%Y-%m'), max(cost_status), sum(total_cost) "
            "from analytics.cost_monthly group by month order by month desc"
        ).fetchall()
        units = one(db, "select count(distinct product_name) from analytics.report_unit_cost")
    header, *rows = marks.cells["table-months"]
    assert header == ["month", "status", "covers", "total", "orgs"]
    assert [[*row[:2], row[3]] for row in rows] == [
        [month, status, f"{currency} {total:,.2f}"] for month, status, total in totals
    ]
    assert len(marks.cells["table-unit-cost"]) == 1 + units


def billing_currency(report: Report) -> str:
    """The currency the run's FOCUS rows name (the tap's billing_currency setting)."""
    with report.db() as db:
        (currency,) = db.execute(
            'select distinct "BillingCurrency" from datadog.focus_costs'
        ).fetchall()
        return str(currency[0])


def amount_in(currency: str) -> re.Pattern[str]:
    """An amount as the report writes it: the currency, thousands separated, to the cent."""
    return re.compile(rf"[+-]?{currency} \d{{1,3}}(,\d{{3}})*\.\d\d")


def test_every_amount_and_axis_names_the_currency(report: Report) -> None:
    marks, currency = report.marks, billing_currency(report)
    amount = amount_in(currency)
    # Every chart counts money on its y axis: the axis says in what, and separates thousands.
    charts = {chart for chart, ticks in marks.ticks.items() if ticks}
    assert charts == set(marks.bars)
    assert {c: marks.units[c] for c in charts} == {c: [currency] for c in charts}
    bad_ticks = {
        c: [n for n in ticks if not AXIS_NUMBER.fullmatch(n)] for c, ticks in marks.ticks.items()
    }
    assert not any(bad_ticks.values()), bad_ticks
    assert any(float(n.replace(",", "")) >= 1_000 for n in marks.ticks["chart-months"])
    # Each card but the orgs count is an amount (or says the projection is not published yet).
    cards = [card for card in marks.entries["cards"] if not card.startswith("Orgs")]
    assert len(cards) == 3
    assert all(amount.search(card) or card.endswith("not published yet") for card in cards), cards
    # Every amount in the tables.
    money_columns = {
        "table-months": [3],
        "table-movers-product": [2, 3, 4],
        "table-movers-org": [2, 3, 4],
        "table-daily": [1, 2],
    }
    for table, columns in money_columns.items():
        for row in marks.cells[table][1:]:
            assert all(amount.fullmatch(row[column]) for column in columns), (table, row)
    for row in marks.cells["table-unit-cost"][1:]:
        assert all(amount.fullmatch(cell) or cell == "-" for cell in row[2:]), row
    assert currency in marks.text["subtitle"]
    if marks.markers["chart-projection"]:  # the projected total's label
        assert any(amount.search(text) for text in marks.texts["chart-projection"])
    # The terminal summary names it too.
    assert f"Datadog cost per month, in {currency} (" in report.stdout


def this_month(report: Report) -> tuple[int, dt.datetime, dt.datetime]:
    """The days of the latest month of daily cost, its last day with cost, when it was read."""
    with report.db() as db:
        row = db.execute(
            "select extract(day from last_day(max(month))), max(date), max(read_at) "
            "from datadog.daily_costs where row_type = 'day' "
            "and month = (select max(month) from datadog.daily_costs)"
        ).fetchone()
    assert row is not None
    days, last_day, read_at = row
    return int(days), last_day, read_at


def test_the_spend_to_date_stops_at_the_last_day_read(report: Report) -> None:
    days, last_day, _ = this_month(report)
    spend, *projection = report.marks.paths["chart-projection"]
    points = spend.removeprefix("M").split("L")
    assert last_day.day < days  # a month in progress: days not read yet
    assert len(points) == last_day.day, spend  # from the 1st to the last day read, no further
    if projection:  # Datadog's projection runs from there to the month's last day
        (line,) = projection
        assert line.removeprefix("M").split("L")[0] == points[-1]
        assert len(line.split("L")) == days - last_day.day + 1


def test_the_day_being_read_is_shown_as_partial(report: Report) -> None:
    _, last_day, read_at = this_month(report)
    assert read_at.date() == last_day.date() == report.instant.date()  # read while under way
    marks, day = report.marks, f"{last_day:%Y-%m-%d}"
    # Its bar (and no other) and the spend to date's last point are drawn apart, and labelled.
    assert marks.partial["chart-daily"] == [f"rect:{last_day.day - 1}"]
    assert marks.partial["chart-projection"] == ["circle"]
    for chart in ("chart-daily", "chart-projection"):
        assert "partial day" in marks.texts[chart], marks.texts[chart]
    legend = marks.entries.get("legend-chart-daily", [])
    assert any(entry.startswith(f"partial day: {day}, read ") for entry in legend), legend
    # The tables say so: this month's days, and the month's row.
    header, *rows = marks.cells["table-daily"]
    assert header == ["day", "spend", "spend to date", ""]
    assert [row[0] for row in rows if row[3] == "partial"] == [day]
    (month,) = (row for row in marks.cells["table-months"][1:] if row[0] == day[:7])
    assert month[2] == f"to {day}, a partial day"
    assert f"{day} was still going on" in marks.text["daily-note"]


def test_the_unit_cost_of_the_month_in_progress_is_cost_to_date_over_usage_to_date(
    report: Report,
) -> None:
    """Hosts, billed per month, count for the share of the month elapsed; events are to date."""
    currency = billing_currency(report)
    with report.db() as db:
        month, products = db.execute(
            "select strftime(max(month), '%Y-%m'), count(distinct product_name) "
            "from analytics.cost_monthly where cost_status = 'estimate'"
        ).fetchone()  # type: ignore[misc]
        to_date = db.execute(
            "select c.product_name, c.cost, u.usage, u.usage_aggregation, u.unit, "
            "  u.elapsed / (24 * extract(day from last_day(c.month))) "
            "from (select month, product_name, sum(total_cost) as cost "
            "  from analytics.cost_monthly where cost_status = 'estimate' group by all) as c "
            "join (select month, product_name, sum(org_billable_usage) as usage, "
            "  max(usage_aggregation) as usage_aggregation, max(usage_unit) as unit, "
            "  max(elapsed_usage_hours) as elapsed from datadog.billable_usage group by all) as u "
            "using (month, product_name) where strftime(c.month, '%Y-%m') = ?",
            [month],
        ).fetchall()
    header, *rows = report.marks.cells["table-unit-cost"]
    column = next(i for i, label in enumerate(header) if label.startswith(f"{month} "))
    shown = {row[0]: row[column] for row in rows}
    assert len(to_date) == products == len(shown)
    for product, cost, usage, aggregation, unit, elapsed in to_date:
        assert 0 < elapsed < 1  # a month in progress
        usage_to_date = usage * (elapsed if aggregation == "top99p" else 1)
        per = 1_000_000 if unit == "events" else 1
        expected = float(cost) / usage_to_date * per
        figure = float(shown[product].split()[-1].replace(",", ""))
        assert abs(figure - expected) <= 0.0051, (product, shown[product], round(expected, 4))
        assert shown[product] == f"{currency} {figure:,.2f}"
    assert header[column] == f"{month} estimate, to date"
    assert "cost to date over usage to date" in report.marks.text["unit-cost-note"]


def test_event_priced_products_are_priced_per_million_events(report: Report) -> None:
    currency = billing_currency(report)
    with report.db() as db:
        whole = db.execute(
            "select c.product_name, strftime(c.month, '%Y-%m'), u.unit, c.cost / u.usage "
            "from (select month, product_name, sum(total_cost) as cost "
            "  from analytics.cost_monthly where cost_status <> 'estimate' group by all) as c "
            "join (select month, product_name, sum(org_billable_usage) as usage, "
            "  max(usage_unit) as unit from datadog.billable_usage group by all) as u "
            "using (month, product_name) order by u.unit <> 'events', c.product_name, 2"
        ).fetchall()
    header, *rows = report.marks.cells["table-unit-cost"]
    table = {row[0]: dict(zip(header, row, strict=True)) for row in rows}
    checked = 0
    for product, month, unit, per_unit in whole:
        label = next((h for h in header if h.startswith(f"{month} ")), None)
        if label is None:  # not one of the table's months
            continue
        size, name = (1_000_000, "million events") if unit == "events" else (1, "host")
        shown = table[product][label]
        assert shown.split()[-1] == f"{float(per_unit) * size:,.2f}", (product, month, shown)
        assert shown == f"{currency} {float(per_unit) * size:,.2f}"
        assert table[product][header[1]] == name
        checked += size > 1
    assert header[1] == "per"
    assert checked >= 1  # at least one whole month of an event-priced product


def test_org_and_product_names_are_shown_whole(report: Report) -> None:
    marks = report.marks
    cut = [
        text
        for texts in (*marks.texts.values(), *marks.labels.values())
        for text in texts
        if text.endswith("..")
    ]
    assert not cut, cut
    with report.db() as db:
        products = [
            p
            for (p,) in db.execute(
                "select product_name from analytics.cost_monthly group by all "
                "order by sum(total_cost) desc, product_name"
            ).fetchall()
        ]
        orgs = [
            o
            for (o,) in db.execute(
                "select max(coalesce(org_name, public_id)) || ' (' || public_id || ')' "
                "from analytics.cost_monthly group by public_id "
                "order by sum(total_cost) desc, 1"
            ).fetchall()
        ]
    assert marks.entries.get("legend-chart-months") == products  # fewer than the top 7
    assert marks.entries.get("legend-chart-orgs") == orgs  # fewer than the top 9
    # The movers' bars are numbered; the table beside names each number whole.
    for dimension, names in (("product", products), ("org", orgs)):
        header, *rows = marks.cells[f"table-movers-{dimension}"]
        assert header[:2] == ["#", dimension]
        assert [row[0] for row in rows] == [str(rank) for rank in range(1, len(rows) + 1)]
        assert {row[1] for row in rows} <= set(names)
        assert marks.labels[f"chart-movers-{dimension}"] == [row[0] for row in rows]


def test_a_screenshot_of_the_report(report: Report) -> None:
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    SCREENSHOT.unlink(missing_ok=True)
    chromium(f"--screenshot={SCREENSHOT}", (report.path / "report.html").as_uri())
    png = SCREENSHOT.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == (WIDTH, HEIGHT)
    assert len(png) > 100_000  # charts and tables, not a blank page
