"""Print what the Quickstart loaded: cost per month and product, and rows per table.

Run with the target-duckdb plugin's Python, which has duckdb: no extra install.
"""

from __future__ import annotations

import sys

import duckdb

SCHEMA = "datadog"
TOP_PRODUCTS = 3

# Historical cost where Datadog has it for a month, else the estimate. charge_type `total`
# is committed + on_demand: summing every charge type would count costs twice.
COST_PER_MONTH_AND_PRODUCT = f"""
with historical as (
    select month, product_name, sum(cost) as cost, 'historical' as source
    from {SCHEMA}.historical_costs where charge_type = 'total' group by all
), estimated as (
    select month, product_name, sum(cost) as cost, 'estimated' as source
    from {SCHEMA}.estimated_costs
    where charge_type = 'total' and month not in (select month from historical)
    group by all
)
select strftime(month, '%Y-%m') as month, product_name, cost, source
from (select * from historical union all select * from estimated)
order by month, cost desc, product_name
"""  # noqa: S608 - SCHEMA is a constant


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
    if {"historical_costs", "estimated_costs"} <= set(tables):
        months: dict[str, list[tuple[str, float, str]]] = {}
        for month, product, cost, source in connection.execute(
            COST_PER_MONTH_AND_PRODUCT
        ).fetchall():
            months.setdefault(month, []).append((product, cost, source))
        print(f"Datadog cost per month and product (USD), from {database}:")
        for month, products in months.items():
            total = sum(cost for _, cost, _ in products)
            top = ", ".join(f"{name} {cost:,.2f}" for name, cost, _ in products[:TOP_PRODUCTS])
            more = (
                f" (+{len(products) - TOP_PRODUCTS} more)" if len(products) > TOP_PRODUCTS else ""
            )
            print(f"  {month}  {total:>12,.2f}  {products[0][2]:<10}  {top}{more}")
    else:
        print("No cost tables: did the keys have cost access (parent org, billing_read)?")
    print("Rows per table:")
    for name in tables:
        query = f'select count(*) from {SCHEMA}."{name}"'  # noqa: S608 - names from the catalog
        (count,) = connection.execute(query).fetchone()
        print(f"  {name:<28} {count:>10,}")


if __name__ == "__main__":
    main(sys.argv[1])
