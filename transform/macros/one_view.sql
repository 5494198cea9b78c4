{#- Keep one cost view per month: sub-org (a row per org) where the month has it, else summary.
    The tap keys rows by view, so a month read both ways has both: summing both counts twice. -#}
{% macro one_view(relation, period) %}
select * from (
    select
        r.*,
        max(case when r.view = 'sub-org' then 1 else 0 end) over (partition by r.{{ period }})
            as month_has_orgs
    from {{ relation }} as r
) as viewed
where (view = 'sub-org') = (month_has_orgs = 1)
{% endmacro %}
