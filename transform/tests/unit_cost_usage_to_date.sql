-- A whole month's unit cost is over its whole billable usage; a month in progress never counts
-- more usage than Datadog reported for it (a level counts for the share of the month elapsed).
select month, product_name, cost_status, billable_usage, usage_to_date
from {{ ref('unit_cost') }}
where (cost_status <> 'estimate' and usage_to_date <> billable_usage)
    or usage_to_date > billable_usage
