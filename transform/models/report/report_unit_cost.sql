-- Cost per billable unit of each product over the last months (var report_unit_cost_months),
-- with the month's status: the report's unit cost table.
select
    month,
    product_name,
    cost_status,
    usage_unit,
    round(total_cost, 2) as total_cost,
    billable_usage,
    cost_per_unit
from (
    select
        u.*,
        dense_rank() over (order by u.month desc) as recency
    from {{ ref('unit_cost') }} as u
) as recent
where recency <= {{ var('report_unit_cost_months', 3) }}
