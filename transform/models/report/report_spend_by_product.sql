-- Spend per month of the largest products (var report_top_products, over all months), the rest
-- as `other products`: the report's stacked bars.
{{ top_groups(ref('cost_monthly'), 'product_name', var('report_top_products', 7), 'other products') }}
