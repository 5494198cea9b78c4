"""Print what the Quickstart loaded as a FinOps report, or its rows per table.

The report: cost per month, product and org, the top movers against the previous month, then
rows per table. ``--counts`` prints the rows per table as JSON instead (the Quickstart compares
them before and after a run).

Run with the target-duckdb plugin's Python, which has duckdb: no extra install.

Each month is taken from one read only: historical cost where Datadog has published the month
(final, else preliminary), else the estimate; of that source, the latest read (``read_at``) and
its view. target-duckdb merges rows on their keys and ignores ACTIVATE_VERSION, so a product that
dropped out of a later estimate keeps its old row: the ``read_at`` filter leaves it out. Only the
``total`` charges are added up (committed + on-demand each, derived by the tap where Datadog
sends none).
"""

from __future__ import annotations

import argparse
import json
import typing as t
from pathlib import Path

import duckdb

TOP_PRODUCTS = 3
LAST_MONTHS_PER_ORG = 3
TOP_MOVERS = 5

LATEST_TOTALS = """
with costs as (
    select month, view, public_id, org_name, product_name, charge_type, cost, cost_status,
           read_at, 1 as source
    from {schema}.historical_costs
    union all
    select month, view, public_id, org_name, product_name, charge_type, cost, cost_status,
           read_at, 2 as source
    from {schema}.estimated_costs
), latest as (
    select month, source, view, read_at
    from costs
    qualify row_number() over (partition by month order by source, read_at desc) = 1
)
select c.month, c.cost_status, c.public_id, c.org_name, c.product_name,
       cast(c.cost as decimal(38, 9)) as cost
from costs c
join latest l
  on c.month = l.month and c.source = l.source and c.view = l.view and c.read_at = l.read_at
where c.charge_type = 'total'
"""

PER_MONTH = """
select strftime(month, '%Y-%m'), any_value(cost_status), round(sum(cost), 2)
from ({totals}) group by month order by month
"""

PER_MONTH_AND_PRODUCT = """
select strftime(month, '%Y-%m'), product_name, round(sum(cost), 2) as total
from ({totals}) group by all order by 1, total desc, product_name
"""

PER_ORG_AND_MONTH = """
select coalesce(any_value(org_name), public_id) || ' (' || public_id || ')',
       strftime(month, '%Y-%m'), round(sum(cost), 2)
from ({totals}) group by public_id, month order by 1, 2
"""


def money(amount: float) -> str:
    """An amount to the cent, with thousands separators."""
    return f"{amount:,.2f}"


def change(before: float, after: float) -> str:
    """``+1,234.50 (+12.3%)``: the change to the cent, and in percent of the month before."""
    share = f"{(after - before) / before:+.1%}" if before else "new"
    return f"{after - before:+,.2f} ({share})"


class Report:
    """The FinOps report of one DuckDB schema: every query reads the same latest totals."""

    def __init__(self, connection: duckdb.DuckDBPyConnection, schema: str) -> None:
        self.connection = connection
        self.totals = LATEST_TOTALS.format(schema=schema)

    def rows(self, query: str) -> list[tuple[t.Any, ...]]:
        """The rows of one of the queries above, over the latest totals."""
        return self.connection.execute(query.format(totals=self.totals)).fetchall()

    def print_months(self) -> list[tuple[str, str, float]]:
        """Cost per month, its status and top products; returns the months."""
        products: dict[str, list[str]] = {}
        for month, product, total in self.rows(PER_MONTH_AND_PRODUCT):
            products.setdefault(month, []).append(f"{product} {money(total)}")
        months = self.rows(PER_MONTH)
        print(
            "Datadog cost per month, in the account's billing currency (Datadog's answers "
            "name none):"
        )
        print(f"  {'month':<8} {'status':<12} {'total':>14}  top products")
        for month, status, total in months:
            top = ", ".join(products[month][:TOP_PRODUCTS])
            more = len(products[month]) - TOP_PRODUCTS
            top += f" (+{more} more)" if more > 0 else ""
            print(f"  {month:<8} {status:<12} {money(total):>14}  {top}")
        print(
            "  final: historical cost read after the 16th of the next month; preliminary: read "
            "before, may change; estimate: month to date, revised daily."
        )
        return months

    def print_orgs(self, recent: list[str]) -> None:
        """Cost per org over the last months."""
        per_org: dict[str, dict[str, float]] = {}
        for org, month, total in self.rows(PER_ORG_AND_MONTH):
            per_org.setdefault(org, {})[month] = total
        print("Cost per org:")
        print(f"  {'org':<40}" + "".join(f"{month:>14}" for month in recent))
        for org, totals in per_org.items():
            cells = "".join(f"{money(totals[m]) if m in totals else '-':>14}" for m in recent)
            print(f"  {org:<40}{cells}")

    def print_movers(self, months: list[tuple[str, str, float]]) -> None:
        """The largest changes, per product and per org, of the last whole month on the one before.

        An estimate is a month to date: comparing it with a whole month would mislead.
        """
        whole = [(month, status) for month, status, _ in months if status != "estimate"]
        if len(whole) < 2:  # noqa: PLR2004
            print("Top movers: fewer than two whole months read yet.")
            return
        (before, before_status), (after, after_status) = whole[-2:]
        print(
            f"Top movers, {after} ({after_status}) against {before} ({before_status}), "
            "largest changes first:"
        )
        per_product: dict[str, dict[str, float]] = {}
        for month, product, total in self.rows(PER_MONTH_AND_PRODUCT):
            per_product.setdefault(product, {})[month] = total
        per_org: dict[str, dict[str, float]] = {}
        for org, month, total in self.rows(PER_ORG_AND_MONTH):
            per_org.setdefault(org, {})[month] = total
        for title, table in (("product", per_product), ("org", per_org)):
            moves = sorted(
                ((name, totals.get(before, 0.0), totals.get(after, 0.0))
                 for name, totals in table.items()),
                key=lambda move: (-abs(move[2] - move[1]), move[0]),
            )  # fmt: skip
            print(f"  {'by ' + title:<40}{before:>14}{after:>14}  change")
            for name, was, now in moves[:TOP_MOVERS]:
                print(f"  {name:<40}{money(was):>14}{money(now):>14}  {change(was, now)}")


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


def main() -> None:
    """Print the report (or, with --counts, the rows per table as JSON) of one DuckDB schema."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("database")
    parser.add_argument("schema")
    parser.add_argument("--counts", action="store_true", help="rows per table, as JSON")
    arguments = parser.parse_args()
    if not Path(arguments.database).exists():
        print(json.dumps({}) if arguments.counts else f"{arguments.database} does not exist")
        return
    connection = duckdb.connect(arguments.database, read_only=True)
    counts = table_counts(connection, arguments.schema)
    if arguments.counts:
        print(json.dumps(counts))
        return
    print(f"From {arguments.database}, schema {arguments.schema}:")
    if {"historical_costs", "estimated_costs"} <= set(counts):
        report = Report(connection, arguments.schema)
        months = report.print_months()
        report.print_orgs([month for month, _, _ in months[-LAST_MONTHS_PER_ORG:]])
        report.print_movers(months)
    else:
        print("No cost tables: did the keys have cost access (parent org, billing_read)?")
    print("Rows per table:")
    for name, count in counts.items():
        print(f"  {name:<28} {count:>10,}")


if __name__ == "__main__":
    main()
