-- Each day's own cost, and a final month's adjustment rows on its last day.
select
    date,
    month,
    view,
    public_id,
    org_name,
    product_name,
    charge_type,
    row_type,
    cast(cost as numeric(38, 9)) as cost,
    cast(cumulative_cost as numeric(38, 9)) as cumulative_cost,
    cost_status,
    read_at
from {{ source('datadog', 'daily_costs') }}
where cost_status <> 'withdrawn'  -- a day or line Datadog no longer lists (its cost is 0)
