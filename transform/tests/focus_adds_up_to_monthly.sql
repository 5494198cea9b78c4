-- FOCUS BilledCost per month and org equals the monthly cost, to the cent.
select m.month, m.public_id, m.total_cost, f.billed_cost
from (
    select month, public_id, sum(total_cost) as total_cost
    from {{ ref('cost_monthly') }}
    group by month, public_id
) as m
full outer join (
    select "BillingPeriodStart" as month, "SubAccountId" as public_id, sum("BilledCost") as billed_cost
    from {{ ref('focus') }}
    group by "BillingPeriodStart", "SubAccountId"
) as f
    on f.month = m.month and f.public_id = m.public_id
where coalesce(round(m.total_cost, 2), -1) <> coalesce(round(f.billed_cost, 2), -1)
