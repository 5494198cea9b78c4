-- Cost per billable unit, per month and product, for the whole account: what a unit (a host,
-- a million log events) costs, to price a new service. The quantity is the one Datadog bills
-- on: the 99th percentile of hosts where it has one, else the sum, average or maximum.
with quantities as (
    select
        month,
        public_id,
        product_name,
        org_billable_usage,
        usage_unit,
        row_number() over (
            partition by month, public_id, product_name
            order by case usage_aggregation
                when 'top99p' then 1 when 'sum' then 2 when 'average' then 3 else 4 end
        ) as preference
    from {{ ref('stg_billable_usage') }}
),

priced as (
    select
        c.month,
        c.product_name,
        c.cost_status,
        c.total_cost,
        q.org_billable_usage,
        q.usage_unit
    from {{ ref('cost_monthly') }} as c
    inner join quantities as q
        on q.month = c.month
        and q.public_id = c.public_id
        and q.product_name = c.product_name
        and q.preference = 1
)

select
    month,
    product_name,
    max(cost_status) as cost_status,
    sum(total_cost) as total_cost,
    sum(org_billable_usage) as billable_usage,
    max(usage_unit) as usage_unit,
    case
        when sum(org_billable_usage) > 0
            then cast(sum(total_cost) / sum(org_billable_usage) as numeric(38, 9))
    end as cost_per_unit
from priced
group by month, product_name
