{#- The columns of a cost row, typed, in one order, for every cost stream's staging model
    (historical and estimated cost are unioned in cost_monthly, so theirs must be one list):
    `before`: columns ahead of the month (a daily row's date, a projection's snapshot_date);
    `keys`: key columns after the charge type (a daily row's row_type);
    `amounts`: more amounts after cost, typed as it is (a daily row's cumulative_cost);
    `status`: false leaves out cost_status and read_at (a projection: always `projection`, and
    its snapshot_date is the day it was read). -#}
{% macro cost_columns(before=[], keys=[], amounts=[], status=true) %}
    {%- for column in before %}
    {{ column }},
    {%- endfor %}
    month,
    view,
    public_id,
    org_name,
    product_name,
    charge_type,
    {%- for column in keys %}
    {{ column }},
    {%- endfor %}
    {%- for amount in ['cost'] + amounts %}
    cast({{ amount }} as numeric(38, 9)) as {{ amount }}{{ ',' if status or not loop.last }}
    {%- endfor %}
    {%- if status %}
    cost_status,
    read_at
    {%- endif %}
{% endmacro %}
