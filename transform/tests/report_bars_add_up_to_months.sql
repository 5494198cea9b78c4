-- The report's stacked bars (per product, per org) add up to the month's total: each bar is
-- rounded to the cent, so they may differ by at most half a cent per bar.
with bars as (
    select 'product' as stack, month, group_name, total_cost from {{ ref('report_spend_by_product') }}
    union all
    select 'org' as stack, month, group_name, total_cost from {{ ref('report_spend_by_org') }}
),

stacked as (
    select stack, month, sum(total_cost) as stacked_cost, count(*) as bar_count
    from bars
    group by stack, month
)

select s.stack, s.month, s.stacked_cost, m.total_cost
from stacked as s
inner join {{ ref('report_months') }} as m on m.month = s.month
where abs(s.stacked_cost - m.total_cost) > 0.005 * s.bar_count
union all
select 'missing' as stack, m.month, null as stacked_cost, m.total_cost
from {{ ref('report_months') }} as m
where (select count(distinct s.stack) from stacked as s where s.month = m.month) <> 2
