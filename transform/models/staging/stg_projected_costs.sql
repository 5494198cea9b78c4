-- The latest snapshot of each month's projection, without the lines withdrawn from it.
select {{ cost_columns(before=['snapshot_date'], status=false) }}
from (
    select p.*, max(p.snapshot_date) over (partition by p.month) as latest_snapshot
    from {{ source('datadog', 'projected_costs') }} as p
) as snapshots
where snapshot_date = latest_snapshot and cost_status <> 'withdrawn'
