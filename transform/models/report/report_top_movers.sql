-- The largest changes, per product and per org, of the last whole month (final or preliminary)
-- on the one before: an estimate is a month to date, and comparing it with a whole month would
-- mislead. Rank 1 is the largest change either way.
with whole_months as (
    select
        month,
        cost_status,
        row_number() over (order by month desc) as recency
    from {{ ref('report_months') }}
    where cost_status <> 'estimate'
),

compared as (
    select
        max(case when recency = 2 then month end) as before_month,
        max(case when recency = 2 then cost_status end) as before_status,
        max(case when recency = 1 then month end) as after_month,
        max(case when recency = 1 then cost_status end) as after_status
    from whole_months
),

named as (
    select 'product' as dimension, product_name as name, month, total_cost
    from {{ ref('cost_monthly') }}
    union all
    select
        'org' as dimension,
        max(coalesce(org_name, public_id)) over (partition by public_id)
        || ' (' || public_id || ')' as name,
        month,
        total_cost
    from {{ ref('cost_monthly') }}
),

changes as (
    select
        n.dimension,
        n.name,
        c.before_month,
        c.before_status,
        c.after_month,
        c.after_status,
        round(sum(case when n.month = c.before_month then n.total_cost else 0 end), 2)
            as before_cost,
        round(sum(case when n.month = c.after_month then n.total_cost else 0 end), 2)
            as after_cost
    from named as n
    cross join compared as c
    where c.before_month is not null
    group by
        n.dimension, n.name, c.before_month, c.before_status, c.after_month, c.after_status
),

ranked as (
    select
        changes.*,
        after_cost - before_cost as change,
        case
            when before_cost <> 0 then round((after_cost - before_cost) / before_cost, 4)
        end as change_ratio,
        row_number() over (
            partition by dimension order by abs(after_cost - before_cost) desc, name
        ) as mover_rank
    from changes
)

select * from ranked
where mover_rank <= {{ var('report_top_movers', 5) }}
