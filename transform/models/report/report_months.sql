-- One row per month for the report: its status (final, preliminary, estimate), the account's
-- total to the cent, and how many orgs had cost.
select
    month,
    max(cost_status) as cost_status,
    round(sum(total_cost), 2) as total_cost,
    count(distinct public_id) as orgs
from {{ ref('cost_monthly') }}
group by month
