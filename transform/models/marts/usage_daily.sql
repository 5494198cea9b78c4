-- Hourly usage rolled up per day, org, product family and usage type.
select
    date_trunc('day', hour) as date,
    public_id,
    max(org_name) as org_name,
    product_family,
    usage_type,
    sum(usage) as usage,
    count(*) as hours
from {{ ref('stg_hourly_usage') }}
group by date_trunc('day', hour), public_id, product_family, usage_type
