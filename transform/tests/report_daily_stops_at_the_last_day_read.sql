-- This month's spend to date runs to the last day with cost and no further (a day not read yet
-- has no spend to date), and the one partial day, if any, is that last day: the day the month
-- was read on cannot be followed by a day read.
with last_day as (
    select max(date) as date from {{ ref('report_daily_this_month') }} where daily_cost is not null
)

select d.date, d.spend_to_date, d.is_partial, 'spend to date after the last day read' as problem
from {{ ref('report_daily_this_month') }} as d
cross join last_day
where (d.spend_to_date is null) <> (d.date > last_day.date)
union all
select d.date, d.spend_to_date, d.is_partial, 'a partial day that is not the last day read'
from {{ ref('report_daily_this_month') }} as d
cross join last_day
where d.is_partial and d.date <> last_day.date
