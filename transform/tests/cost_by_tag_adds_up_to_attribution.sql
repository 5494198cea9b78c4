-- Per tag key, the tag values' cost adds up to the org's attributed cost of the dimension.
select t.month, t.public_id, t.billing_dimension, t.tag_key, t.total_cost, a.total_cost
from (
    select month, public_id, billing_dimension, tag_key, sum(total_cost) as total_cost
    from {{ ref('cost_by_tag') }}
    group by month, public_id, billing_dimension, tag_key
) as t
inner join (
    select month, public_id, billing_dimension, sum(total_cost) as total_cost
    from {{ ref('stg_cost_attribution') }}
    group by month, public_id, billing_dimension
) as a
    on a.month = t.month and a.public_id = t.public_id and a.billing_dimension = t.billing_dimension
where round(t.total_cost, 2) <> round(a.total_cost, 2)
