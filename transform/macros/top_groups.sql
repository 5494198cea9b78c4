{#- `relation`: a table or a parenthesized query with month, total_cost and `name`.
    The spend per month of each of the `top` largest `name`s (over all months), the rest added
    up as `other`; every month has every group (0 where it had none), so that a stacked chart
    gets one value per month and group. Ranked by spend, then name. -#}
{% macro top_groups(relation, name, top, other) %}
with ranked as (
    select
        {{ name }} as name,
        row_number() over (order by sum(total_cost) desc, {{ name }}) as name_rank
    from {{ relation }} as c
    group by {{ name }}
),

grouped as (
    select
        c.month,
        case when r.name_rank <= {{ top }} then r.name else '{{ other }}' end as group_name,
        case when r.name_rank <= {{ top }} then r.name_rank else {{ top }} + 1 end as group_rank,
        c.total_cost
    from {{ relation }} as c
    inner join ranked as r on r.name = c.{{ name }}
),

grid as (
    select m.month, g.group_name, g.group_rank
    from (select distinct c.month from {{ relation }} as c) as m
    cross join (select distinct group_name, group_rank from grouped) as g
)

select
    grid.month,
    grid.group_name,
    grid.group_rank,
    round(coalesce(sum(grouped.total_cost), 0), 2) as total_cost
from grid
left join grouped
    on grouped.month = grid.month and grouped.group_name = grid.group_name
group by grid.month, grid.group_name, grid.group_rank
{% endmacro %}
