"""Print what the Quickstart loaded: cost per month, org and product, then rows per table.

Run with the target-duckdb plugin's Python, which has duckdb: no extra install.

Each month is taken from one read only: historical cost where Datadog has published the month
(final, else preliminary), else the estimate; of that source, the latest read (``read_at``) and
its view. target-duckdb merges rows on their keys and ignores ACTIVATE_VERSION, so a product that
dropped out of a later estimate keeps its old row: the ``read_at`` filter leaves it out. Only the
``total`` charges are added up (committed + on-demand each, derived by the tap where Datadog
sends none).
"""

from __future__ import annotations

import sys

import duckdb

SCHEMA = "datadog"
TOP_PRODUCTS = 3
LAST_MONTHS_PER_ORG = 3

LATEST_TOTALS = f"""
with costs as (
    select month, view, public_id, org_name, product_name, charge_type, cost, cost_status,
           read_at, 1 as source
    from {SCHEMA}.historical_costs
    union all
    select month, view, public_id, org_name, product_name, charge_type, cost, cost_status,
           read_at, 2 as source
    from {SCHEMA}.estimated_costs
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
"""  # noqa: S608 - SCHEMA is a constant

PER_MONTH = f"""
select strftime(month, '%Y-%m'), any_value(cost_status), round(sum(cost), 2)
from ({LATEST_TOTALS}) group by month order by month
"""  # noqa: S608 - built from constants

PER_MONTH_AND_PRODUCT = f"""
select strftime(month, '%Y-%m'), product_name, round(sum(cost), 2) as total
from ({LATEST_TOTALS}) group by all order by 1, total desc, product_name
"""  # noqa: S608 - built from constants

PER_ORG_AND_MONTH = f"""
select coalesce(any_value(org_name), public_id) || ' (' || public_id || ')',
       strftime(month, '%Y-%m'), round(sum(cost), 2)
from ({LATEST_TOTALS}) group by public_id, month order by 1, 2
"""  # noqa: S608 - built from constants


def money(amount: float) -> str:
    """An amount to the cent, with thousands separators."""
    return f"{amount:,.2f}"


def print_costs(connection: duckdb.DuckDBPyConnection) -> None:
    """Cost per month (with its status and top products), then per org for the last months."""
    products: dict[str, list[str]] = {}
    for month, product, total in connection.execute(PER_MONTH_AND_PRODUCT).fetchall():
        products.setdefault(month, []).append(f"{product} {money(total)}")
    months = connection.execute(PER_MONTH).fetchall()
    print(
        "Datadog cost per month, in the account's billing currency (Datadog's answers name none):"
    )
    print(f"  {'month':<8} {'status':<12} {'total':>14}  top products")
    for month, status, total in months:
        top = ", ".join(products[month][:TOP_PRODUCTS])
        more = len(products[month]) - TOP_PRODUCTS
        top += f" (+{more} more)" if more > 0 else ""
        print(f"  {month:<8} {status:<12} {money(total):>14}  {top}")
    recent = [month for month, _, _ in months[-LAST_MONTHS_PER_ORG:]]
    per_org: dict[str, dict[str, float]] = {}
    for org, month, total in connection.execute(PER_ORG_AND_MONTH).fetchall():
        per_org.setdefault(org, {})[month] = total
    print("Cost per org:")
    print(f"  {'org':<40}" + "".join(f"{month:>14}" for month in recent))
    for org, totals in per_org.items():
        cells = "".join(f"{money(totals[m]) if m in totals else '-':>14}" for m in recent)
        print(f"  {org:<40}{cells}")
    print(
        "final: historical cost read after the 16th of the next month; preliminary: read "
        "before, may change; estimate: this month (or last, before Datadog publishes it)."
    )


def main(database: str) -> None:
    """Print the cost summary and the row counts of one DuckDB file."""
    connection = duckdb.connect(database, read_only=True)
    tables = [
        name
        for (name,) in connection.execute(
            "select table_name from information_schema.tables where table_schema = ? order by 1",
            [SCHEMA],
        ).fetchall()
    ]
    print(f"From {database}:")
    if {"historical_costs", "estimated_costs"} <= set(tables):
        print_costs(connection)
    else:
        print("No cost tables: did the keys have cost access (parent org, billing_read)?")
    print("Rows per table:")
    for name in tables:
        query = f'select count(*) from {SCHEMA}."{name}"'  # noqa: S608 - names from the catalog
        (count,) = connection.execute(query).fetchone()
        print(f"  {name:<28} {count:>10,}")


if __name__ == "__main__":
    main(sys.argv[1])
