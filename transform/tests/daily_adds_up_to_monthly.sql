-- A final month's days (with the adjustment) add up to its monthly cost, to the cent.
select m.month, m.public_id, m.product_name, m.total_cost, d.days_cost
from {{ ref('cost_monthly') }} as m
inner join (
    select month, public_id, product_name, sum(cost) as days_cost
    from {{ ref('cost_daily') }}
    group by month, public_id, product_name
) as d
    on d.month = m.month and d.public_id = m.public_id and d.product_name = m.product_name
where m.cost_status = 'final'
    and round(m.total_cost, 2) <> round(d.days_cost, 2)
