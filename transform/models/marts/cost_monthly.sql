-- Cost per month, org and product: historical cost where Datadog has published the month
-- (final, else preliminary), else the latest estimate; one view; committed and on-demand
-- added, never Datadog's total beside them.
with published as (
    select * from {{ ref('stg_historical_costs') }}
),

estimated as (
    select e.*
    from {{ ref('stg_estimated_costs') }} as e
    where not exists (select 1 from published as p where p.month = e.month)
),

costs as (
    {{ one_view('(select * from published union all select * from estimated)', 'month') }}
)

select
    month,
    public_id,
    max(org_name) as org_name,
    product_name,
    max(cost_status) as cost_status,
    sum(case when charge_type = 'committed' then cost else 0 end) as committed_cost,
    sum(case when charge_type = 'on_demand' then cost else 0 end) as on_demand_cost,
    sum(case when charge_type in ('committed', 'on_demand') then cost else 0 end) as total_cost
from costs
group by month, public_id, product_name
