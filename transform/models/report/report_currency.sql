-- The currency of every amount in the report, in one row: Datadog's answers name none, so it is
-- the tap's billing_currency setting as the FOCUS rows carry it (BillingCurrency). Null when the
-- rows disagree (the setting changed between runs and old months kept the old one): no single
-- currency can then be put on the report's sums, and the model's test says so.
select
    case when count(distinct "BillingCurrency") = 1 then min("BillingCurrency") end
        as billing_currency,
    count(distinct "BillingCurrency") as currencies
from {{ ref('focus') }}
