-- Published monthly cost: final once read after the 16th of the next month, else preliminary.
select
    month,
    view,
    public_id,
    org_name,
    product_name,
    charge_type,
    cast(cost as numeric(38, 9)) as cost,
    cost_status,
    read_at
from {{ source('datadog', 'historical_costs') }}
