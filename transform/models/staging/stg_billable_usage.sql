select
    month,
    public_id,
    org_name,
    billable_key,
    product_name,
    usage_aggregation,
    cast(org_billable_usage as double precision) as org_billable_usage,
    cast(account_billable_usage as double precision) as account_billable_usage,
    usage_unit,
    cast(elapsed_usage_hours as double precision) as elapsed_usage_hours,
    usage_status
from {{ source('datadog', 'billable_usage') }}
where usage_status <> 'withdrawn'  -- a line Datadog no longer lists (its usage is 0)
