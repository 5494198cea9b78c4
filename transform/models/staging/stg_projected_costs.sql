-- The latest snapshot of each month's projection, without the lines withdrawn from it.
select
    snapshot_date,
    month,
    view,
    public_id,
    org_name,
    product_name,
    charge_type,
    cast(cost as numeric(38, 9)) as cost
from (
    select p.*, max(p.snapshot_date) over (partition by p.month) as latest_snapshot
    from {{ source('datadog', 'projected_costs') }} as p
) as snapshots
where snapshot_date = latest_snapshot and cost_status <> 'withdrawn'
