-- This month (the latest month of daily cost), one row per calendar day: each day's spend,
-- the spend to date up to the last day with cost (null after it: those days have not been
-- read), and Datadog's projection of the month drawn as a straight line from the last day read
-- to the projected total on the month's last day (null where Datadog has published no
-- projection yet: it does from about the middle of the month). The day the month was last read
-- on was still going on then: its cost is partial (is_partial), and so is the spend to date.
with this_month as (
    select max(month) as month from {{ ref('cost_daily') }}
),

last_read as (
    -- When the month's days were last read: the tap reads an open month whole every run.
    select max(d.read_at) as read_at
    from {{ ref('stg_daily_costs') }} as d
    inner join this_month as m on m.month = d.month
    where d.row_type = 'day'
),

days as (
    -- generate_series with constant bounds: DuckDB takes no column in a table function's bounds
    select
        cast(m.month + d.offset_days * interval '1 day' as date) as date,
        d.offset_days + 1 as day_of_month,
        extract(day from m.month + interval '1 month' - interval '1 day') as days_in_month
    from this_month as m
    cross join generate_series(0, 30) as d (offset_days)
    where m.month + d.offset_days * interval '1 day' < m.month + interval '1 month'
),

spend as (
    select
        cast(c.date as date) as date,
        sum(c.cost) as cost,
        max(c.cost_status) as cost_status
    from {{ ref('cost_daily') }} as c
    inner join this_month as m on m.month = c.month
    group by cast(c.date as date)
),

projection as (
    select
        sum(p.cost) as projected_total,
        max(p.snapshot_date) as snapshot_date
    from ({{ one_view(ref('stg_projected_costs'), 'month') }}) as p
    inner join this_month as m on m.month = p.month
    where p.charge_type in ('committed', 'on_demand')
),

daily as (
    select
        days.date,
        days.day_of_month,
        days.days_in_month,
        spend.cost as daily_cost,
        spend.cost_status,
        sum(coalesce(spend.cost, 0)) over (order by days.date) as spend_to_date
    from days
    left join spend on spend.date = days.date
),

last_day as (
    select
        max(day_of_month) as day_of_month,
        max(spend_to_date) as spend_to_date
    from daily
    where daily_cost is not null
)

select
    daily.date,
    daily.day_of_month,
    round(daily.daily_cost, 2) as daily_cost,
    daily.cost_status,
    coalesce(daily.daily_cost is not null and daily.date = cast(last_read.read_at as date), false)
        as is_partial,
    last_read.read_at,
    case
        when daily.day_of_month <= last_day.day_of_month then round(daily.spend_to_date, 2)
    end as spend_to_date,
    case
        when projection.projected_total is null then null
        when daily.day_of_month < last_day.day_of_month then null
        when daily.day_of_month = last_day.day_of_month then round(daily.spend_to_date, 2)
        else cast(round(
            last_day.spend_to_date
            + (projection.projected_total - last_day.spend_to_date)
            * (daily.day_of_month - last_day.day_of_month)
            / (daily.days_in_month - last_day.day_of_month),
            2
        ) as numeric(38, 2))
    end as projected_spend,
    round(projection.projected_total, 2) as projected_total,
    cast(projection.snapshot_date as date) as projection_date
from daily
cross join last_day
cross join last_read
cross join projection
