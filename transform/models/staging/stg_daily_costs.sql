-- Each day's own cost, and a final month's adjustment rows on its last day.
select {{ cost_columns(before=['date'], keys=['row_type'], amounts=['cumulative_cost']) }}
from {{ source('datadog', 'daily_costs') }}
where cost_status <> 'withdrawn'  -- a day or line Datadog no longer lists (its cost is 0)
