select
    timestamp as hour,
    public_id,
    org_name,
    product_family,
    usage_type,
    cast(value as double precision) as usage
from {{ source('datadog', 'hourly_usage') }}
