select
    month,
    public_id,
    org_name,
    tag_set,
    billing_dimension,
    cast(on_demand_cost as numeric(38, 9)) as on_demand_cost,
    cast(committed_cost as numeric(38, 9)) as committed_cost,
    cast(total_cost as numeric(38, 9)) as total_cost,
    cost_status
from {{ source('datadog', 'cost_attribution') }}
where cost_status <> 'withdrawn'  -- a line Datadog no longer lists (its cost is 0)
