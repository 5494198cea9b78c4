-- Cost per billable unit, per month and product, for the whole account: what a unit (a host,
-- a log event) costs, to price a new service. The quantity is the one Datadog bills on: the
-- 99th percentile of hosts where it has one, else the sum, average or maximum.
--
-- A month in progress (its cost an estimate, to date) is divided by its usage to date: a sum
-- (events) is to date already; a level billed per month (the 99th percentile, average or
-- maximum of hosts) is not, so it counts for the share of the month Datadog's billable usage
-- covers so far (elapsed_usage_hours of the month's hours): host-months to date. Dividing cost
-- to date by a whole month's hosts would price a host at a fraction of its price. No figure
-- (null) where the month in progress has no elapsed hours or an aggregation not known here.
with quantities as (
    select
        month,
        public_id,
        product_name,
        org_billable_usage,
        usage_unit,
        usage_aggregation,
        elapsed_usage_hours,
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
        q.usage_unit,
        q.usage_aggregation,
        q.elapsed_usage_hours,
        24 * extract(day from c.month + interval '1 month' - interval '1 day') as month_hours
    from {{ ref('cost_monthly') }} as c
    inner join quantities as q
        on q.month = c.month
        and q.public_id = c.public_id
        and q.product_name = c.product_name
        and q.preference = 1
),

to_date as (
    select
        priced.*,
        case
            when cost_status <> 'estimate' or usage_aggregation = 'sum' then org_billable_usage
            when usage_aggregation in ('top99p', 'average', 'maximum')
                then org_billable_usage * least(elapsed_usage_hours / month_hours, 1)
        end as usage_to_date
    from priced
)

select
    month,
    product_name,
    max(cost_status) as cost_status,
    sum(total_cost) as total_cost,
    sum(org_billable_usage) as billable_usage,
    max(usage_unit) as usage_unit,
    max(usage_aggregation) as usage_aggregation,
    max(elapsed_usage_hours) as elapsed_usage_hours,
    max(month_hours) as month_hours,
    sum(usage_to_date) as usage_to_date,
    case
        when count(usage_to_date) = count(*) and sum(usage_to_date) > 0
            then cast(sum(total_cost) / sum(usage_to_date) as numeric(38, 9))
    end as cost_per_unit
from to_date
group by month, product_name
