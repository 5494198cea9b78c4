{#- The columns of a monthly cost row (historical and estimated cost), typed: the two are
    unioned in cost_monthly, so they must be the same list. -#}
{% macro cost_columns() %}
    month,
    view,
    public_id,
    org_name,
    product_name,
    charge_type,
    cast(cost as numeric(38, 9)) as cost,
    cost_status,
    read_at
{% endmacro %}
