"""The cost report of one DuckDB file: a FinOps summary in the terminal and an HTML page.

Both are laid out from the dbt report models (transform/models/report, schema ``analytics``):
months with their status, spend per product and per org, this month day by day with Datadog's
projection, the top movers and the unit cost. Every number is the model's; this script only
reads the rows and lays them out. ``--html PATH`` also writes the page: one self-contained file
(the charting library, Frappe Charts, and the rows inlined), that opens without a network.
``--counts`` prints the rows per table of the tap's schema as JSON instead (the Quickstart
compares them before and after a run).

Run with the target-duckdb plugin's Python, which has duckdb: no extra install.
"""

from __future__ import annotations

import argparse
import datetime as dt
import decimal
import json
import sys
import typing as t
from pathlib import Path

import duckdb

ASSETS = Path(__file__).resolve().parent / "report_assets"
PAGE = ASSETS / "report.html"
CHARTS_LIBRARY = ASSETS / "frappe-charts-1.6.2.min.umd.js"
MODELS_SCHEMA = "analytics"
#: What the page gets, from which model, in which order.
MODELS = {
    "currency": "report_currency",
    "months": "report_months order by month",
    "by_product": "report_spend_by_product order by month, group_rank",
    "by_org": "report_spend_by_org order by month, group_rank",
    "daily": "report_daily_this_month order by date",
    "movers": "report_top_movers order by dimension desc, mover_rank",
    "unit_cost": "report_unit_cost order by product_name, month",
}
TOP_PRODUCTS = 3
LAST_MONTHS_PER_ORG = 3

Row = dict[str, t.Any]


def money(amount: float) -> str:
    """An amount to the cent, with thousands separators (headings name the currency)."""
    return f"{amount:,.2f}"


def currency_of(models: dict[str, list[Row]]) -> str:
    """The billing currency of every amount (report_currency), or that it is unknown."""
    rows = models["currency"]
    return (rows[0]["billing_currency"] if rows else None) or "(currency unknown)"


def plain(column: str, value: object) -> object:
    """A model's value as JSON has it: ``2026-10``, ``2026-10-31``, ``2026-10-31 15:00 UTC``.

    A month, a day, and an instant (a ``*_at`` column, UTC).
    """
    if isinstance(value, dt.datetime) and column.endswith("_at"):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, dt.datetime | dt.date):
        return value.strftime("%Y-%m" if column.endswith("month") else "%Y-%m-%d")
    if isinstance(value, decimal.Decimal):
        return float(value)
    return value


def read_models(connection: duckdb.DuckDBPyConnection, schema: str) -> dict[str, list[Row]]:
    """The rows of every report model, or a one-line reason why there are none."""
    found = {
        name
        for (name,) in connection.execute(
            "select table_name from information_schema.tables where table_schema = ?", [schema]
        ).fetchall()
    }
    missing = sorted({query.split()[0] for query in MODELS.values()} - found)
    if missing:
        msg = (
            f"no report model {', '.join(missing)} in schema {schema}: run the dbt models first "
            "(meltano run tap-datadog-costs target-duckdb dbt-duckdb:build)"
        )
        raise LookupError(msg)
    models = {}
    for key, query in MODELS.items():
        cursor = connection.execute(f"select * from {schema}.{query}")  # noqa: S608 - ours
        columns = [column[0] for column in cursor.description]
        models[key] = [
            {c: plain(c, v) for c, v in zip(columns, row, strict=True)} for row in cursor.fetchall()
        ]
    return models


def print_summary(models: dict[str, list[Row]]) -> None:
    """Months with status and top products, the largest orgs lately, and the top movers."""
    currency = currency_of(models)
    print_months(models, currency)
    print_orgs(models, currency)
    print_movers(models, currency)


def print_months(models: dict[str, list[Row]], currency: str) -> None:
    """Each month's status, total and largest products, and what a partial month covers."""
    products: dict[str, list[Row]] = {}
    for row in models["by_product"]:
        if row["total_cost"]:
            products.setdefault(row["month"], []).append(row)
    print(
        f"Datadog cost per month, in {currency} (the tap's billing_currency setting; "
        "Datadog's answers name none):"
    )
    print(f"  {'month':<8} {'status':<12} {'total ' + currency:>14}  top products, {currency}")
    for month in models["months"]:
        ranked = sorted(products.get(month["month"], []), key=lambda r: -r["total_cost"])
        top = ", ".join(
            f"{r['group_name']} {money(r['total_cost'])}" for r in ranked[:TOP_PRODUCTS]
        )
        more = len(ranked) - TOP_PRODUCTS
        top += f" (+{more} more)" if more > 0 else ""
        status, total = month["cost_status"], money(month["total_cost"])
        print(f"  {month['month']:<8} {status:<12} {total:>14}  {top}")
    print(
        "  final: historical cost read after the 16th of the next month; preliminary: read "
        "before, may change; estimate: month to date, revised daily."
    )
    for month in models["months"]:
        if month["partial_day"]:
            print(
                f"  {month['month']}: to {month['covers_to']}, a partial day (read while it was "
                "still going on: Datadog's cost of it is incomplete)."
            )


def print_orgs(models: dict[str, list[Row]], currency: str) -> None:
    """The largest orgs' cost in the last months."""
    recent = [month["month"] for month in models["months"][-LAST_MONTHS_PER_ORG:]]
    per_org: dict[str, dict[str, float]] = {}
    for row in models["by_org"]:
        per_org.setdefault(row["group_name"], {})[row["month"]] = row["total_cost"]
    print(f"Cost per org, in {currency} (the largest; the rest as other orgs):")
    print(f"  {'org':<40}" + "".join(f"{month:>14}" for month in recent))
    for org, totals in per_org.items():
        cells = "".join(f"{money(totals[m]) if m in totals else '-':>14}" for m in recent)
        print(f"  {org:<40}{cells}")


def print_movers(models: dict[str, list[Row]], currency: str) -> None:
    """The largest changes per product and per org of the last whole month."""
    movers = models["movers"]
    if not movers:
        print("Top movers: fewer than two whole months read yet.")
        return
    first = movers[0]
    print(
        f"Top movers, {first['after_month']} ({first['after_status']}) against "
        f"{first['before_month']} ({first['before_status']}), in {currency}, largest changes first:"
    )
    for dimension in ("product", "org"):
        before, after = first["before_month"], first["after_month"]
        print(f"  {'by ' + dimension:<40}{before:>14}{after:>14}  change")
        for row in (row for row in movers if row["dimension"] == dimension):
            ratio = row["change_ratio"]
            share = "new" if ratio is None else f"{ratio:+.1%}"
            print(
                f"  {row['name']:<40}{money(row['before_cost']):>14}{money(row['after_cost']):>14}"
                f"  {row['change']:+,.2f} ({share})"
            )


def write_page(models: dict[str, list[Row]], database: str, schema: str, path: Path) -> None:
    """The HTML report: the page with the charting library and the models' rows inlined."""
    rows = {
        **models,
        "database": database,
        "schema": schema,
        "built_at": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }
    # Inside <script>, "</" would end the element early: JSON may escape it as "<\/".
    data = json.dumps(rows, separators=(",", ":")).replace("</", "<\\/")
    page = (
        PAGE.read_text()
        .replace("/*FRAPPE_CHARTS*/", CHARTS_LIBRARY.read_text())
        .replace("/*REPORT_DATA*/", data)
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page)


def table_counts(connection: duckdb.DuckDBPyConnection, schema: str) -> dict[str, int]:
    """Rows per table of the schema (none when the schema does not exist yet)."""
    names = connection.execute(
        "select table_name from information_schema.tables where table_schema = ? order by 1",
        [schema],
    ).fetchall()
    counts = {}
    for (name,) in names:
        query = f'select count(*) from "{schema}"."{name}"'  # noqa: S608 - names from the catalog
        (counts[name],) = connection.execute(query).fetchone()  # type: ignore[misc]
    return counts


def main() -> int:
    """Print the summary (and write the page), or with --counts the rows per table as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("database")
    parser.add_argument("schema", help="the tap's schema (the models are in schema analytics)")
    parser.add_argument("--counts", action="store_true", help="rows per table, as JSON")
    parser.add_argument("--html", type=Path, help="also write the HTML report to this file")
    arguments = parser.parse_args()
    if not Path(arguments.database).exists():
        print(json.dumps({}) if arguments.counts else f"{arguments.database} does not exist")
        return 0 if arguments.counts else 1
    with duckdb.connect(arguments.database, read_only=True) as connection:
        counts = table_counts(connection, arguments.schema)
        if arguments.counts:
            print(json.dumps(counts))
            return 0
        try:
            models = read_models(connection, MODELS_SCHEMA)
        except LookupError as error:
            print(f"ERROR: {error}", file=sys.stderr)
            return 1
    print(f"From {arguments.database}, schema {arguments.schema} (models: {MODELS_SCHEMA}):")
    print_summary(models)
    print("Rows per table:")
    for name, count in counts.items():
        print(f"  {name:<28} {count:>10,}")
    if arguments.html:
        write_page(models, arguments.database, arguments.schema, arguments.html)
        print(f"Report: {arguments.html} (open it in a browser; it needs no network)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
