-- Cost attribution per tag key and value, month, org and billing dimension. Each tag set
-- (`env:prod|team:web`) names every tag key asked for, so per key the values add up to the
-- org's cost of the dimension; `(untagged)` is cost without that tag.
with tags as (
    select
        month,
        public_id,
        org_name,
        billing_dimension,
        cost_status,
        on_demand_cost,
        committed_cost,
        total_cost,
        unnest(string_to_array(tag_set, '|')) as tag
    from {{ ref('stg_cost_attribution') }}
    where tag_set <> '(no breakdown)'
)

select
    month,
    public_id,
    max(org_name) as org_name,
    split_part(tag, ':', 1) as tag_key,
    substr(tag, length(split_part(tag, ':', 1)) + 2) as tag_value,
    billing_dimension,
    max(cost_status) as cost_status,
    sum(on_demand_cost) as on_demand_cost,
    sum(committed_cost) as committed_cost,
    sum(total_cost) as total_cost
from tags
group by month, public_id, split_part(tag, ':', 1), substr(tag, length(split_part(tag, ':', 1)) + 2),
    billing_dimension
