-- Published monthly cost: final once read after the 16th of the next month, else preliminary.
select {{ cost_columns() }}
from {{ source('datadog', 'historical_costs') }}
where cost_status <> 'withdrawn'  -- a line Datadog no longer lists (its cost is 0)
