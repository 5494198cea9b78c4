-- One row per month for the report: its status (final, preliminary, estimate), the account's
-- total to the cent, how many orgs had cost, and the last day it covers: the month's last day,
-- but for the month read day by day (report_daily_this_month) its last day read, which is
-- partial when it was read while still going on.
with months as (
    select
        month,
        max(cost_status) as cost_status,
        round(sum(total_cost), 2) as total_cost,
        count(distinct public_id) as orgs
    from {{ ref('cost_monthly') }}
    group by month
),

read_by_day as (
    select
        min(date) as first_day,
        max(case when daily_cost is not null then date end) as last_day,
        bool_or(is_partial) as last_day_partial
    from {{ ref('report_daily_this_month') }}
),

covered as (
    select
        m.*,
        cast(m.month + interval '1 month' - interval '1 day' as date) as month_end,
        case
            when r.first_day = cast(m.month as date) then r.last_day
        end as last_day_read,
        coalesce(r.first_day = cast(m.month as date) and r.last_day_partial, false)
            as partial_day
    from months as m
    cross join read_by_day as r
)

select
    month,
    cost_status,
    total_cost,
    orgs,
    coalesce(last_day_read, month_end) as covers_to,
    coalesce(last_day_read, month_end) = month_end and not partial_day as whole_month,
    partial_day
from covered
