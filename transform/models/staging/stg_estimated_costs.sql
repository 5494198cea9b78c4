-- Estimated monthly cost, the latest read of each month only, without the lines Datadog no
-- longer lists (withdrawn, cost 0). The tap withdraws a product that dropped out of a later
-- estimate; rows written before it did (target-duckdb ignores ACTIVATE_VERSION) are older
-- reads.
select {{ cost_columns() }}
from (
    select e.*, max(e.read_at) over (partition by e.month) as latest_read_at
    from {{ source('datadog', 'estimated_costs') }} as e
) as reads
where read_at = latest_read_at and cost_status <> 'withdrawn'
