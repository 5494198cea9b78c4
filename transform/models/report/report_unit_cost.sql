-- Cost per billable unit of each product over the last months (var report_unit_cost_months),
-- with the month's status: the report's unit cost table. Priced per the unit a price list
-- names (var report_billable_units: a million events, a host), to the cent; a month in
-- progress is cost to date over usage to date (unit_cost), and says so (month_to_date).
{%- set units = var('report_billable_units', {
    'events': {'size': 1000000, 'label': 'million events'},
    'hosts': {'size': 1, 'label': 'host'},
}) %}
with priced as (
    select
        u.*,
        case u.usage_unit
            {%- for unit, price in units.items() %}
            when '{{ unit }}' then {{ price['size'] }}
            {%- endfor %}
            else 1
        end as unit_size,
        case u.usage_unit
            {%- for unit, price in units.items() %}
            when '{{ unit }}' then '{{ price['label'] }}'
            {%- endfor %}
            else u.usage_unit
        end as unit_label,
        dense_rank() over (order by u.month desc) as recency
    from {{ ref('unit_cost') }} as u
)

select
    month,
    product_name,
    cost_status,
    cost_status = 'estimate' as month_to_date,
    usage_unit,
    usage_aggregation,
    unit_size,
    unit_label,
    round(total_cost, 2) as total_cost,
    billable_usage,
    usage_to_date,
    elapsed_usage_hours,
    month_hours,
    round(cost_per_unit * unit_size, 2) as cost_per_billable_unit
from priced
where recency <= {{ var('report_unit_cost_months', 3) }}
