-- Estimated monthly cost, the latest read of each month only: a target that ignores
-- ACTIVATE_VERSION (target-duckdb) keeps a product that dropped out of a later estimate.
select {{ cost_columns() }}
from (
    select e.*, max(e.read_at) over (partition by e.month) as latest_read_at
    from {{ source('datadog', 'estimated_costs') }} as e
) as reads
where read_at = latest_read_at
