-- Spend per month of the largest orgs (var report_top_orgs, over all months), the rest as
-- `other orgs`: the report's spend per org. An org is named `name (public_id)`.
{% set orgs %}
(
    select
        month,
        max(coalesce(org_name, public_id)) over (partition by public_id)
        || ' (' || public_id || ')' as org,
        total_cost
    from {{ ref('cost_monthly') }}
)
{% endset %}

{{ top_groups(orgs, 'org', var('report_top_orgs', 9), 'other orgs') }}
