-- Each day's own cost per org and product (committed and on-demand added), with a final
-- month's adjustment on its last day: a final month's days add up to cost_monthly.
with daily as (
    {{ one_view(ref('stg_daily_costs'), 'month') }}
)

select
    date,
    month,
    public_id,
    max(org_name) as org_name,
    product_name,
    row_type,
    max(cost_status) as cost_status,
    sum(case when charge_type in ('committed', 'on_demand') then cost else 0 end) as cost
from daily
group by date, month, public_id, product_name, row_type
