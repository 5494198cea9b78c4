"""Monthly cost by tag: what each team, service or environment costs, per billing dimension."""

from __future__ import annotations

import re
import typing as t

from typing_extensions import override

from tap_datadog_costs.answers import flag, instant_problem, org_identity
from tap_datadog_costs.errors import DatadogAPIError, DatadogGaveUpError
from tap_datadog_costs.periods import (
    cost_attribution_final_at,
    isoformat,
    month_of,
    month_range_params,
)
from tap_datadog_costs.schemas import load_schema
from tap_datadog_costs.streams.monthly import PublishedMonthlyStream
from tap_datadog_costs.withdrawals import WITHDRAWN

if t.TYPE_CHECKING:
    import datetime as dt

    from singer_sdk.helpers.types import Context

#: What each ``values`` entry measures: ``<billing dimension>_<measure>``.
MEASURES = (
    "on_demand_cost",
    "committed_cost",
    "total_cost",
    "percentage_in_org",
    "percentage_in_account",
)
VALUE_KEY = re.compile(rf"^(?P<dimension>.+)_(?P<measure>{'|'.join(MEASURES)})$")
#: The tag set of a row when no tag keys were asked for (Datadog sends ``tags: null``).
NO_BREAKDOWN = "(no breakdown)"
#: A tag key's value list is empty when the cost carries no such tag.
UNTAGGED = "(untagged)"
#: The site where Datadog does not offer cost attribution.
NO_ATTRIBUTION_SITES = ("ddog-gov.com",)


def tag_set(tags: dict[str, list[str]] | None) -> str:
    """One text for a tag combination, the same whatever order Datadog lists it in."""
    if tags is None:
        return NO_BREAKDOWN
    return "|".join(
        f"{key}:{','.join(sorted(values)) if values else UNTAGGED}"
        for key, values in sorted(tags.items())
    )


class CostAttributionStream(PublishedMonthlyStream):
    """``GET /api/v2/cost_by_tag/monthly_cost_attribution``: cost per month, org and tag set.

    One row per billing dimension, with the measures of its ``values`` entries (a dimension
    Datadog adds later is a row like the others). A month comes by the 19th of the next and
    is read again until then. A plan without usage attribution, or the US1-FED site, gets one
    warning and no rows: the run goes on.
    """

    name = "cost_attribution"
    path = "/api/v2/cost_by_tag/monthly_cost_attribution"
    permission = "usage_read and billing_read"
    primary_keys = ("month", "public_id", "tag_set", "billing_dimension")
    schema = load_schema("cost_attribution")
    page_cursor_param = "next_record_id"
    one_request_for_all_months = True
    attributes_of_an_org = True

    @override
    def final_at(self, month: dt.datetime) -> dt.datetime:
        return cost_attribution_final_at(month)

    @override
    def withdrawn_values(self, record: dict[str, t.Any]) -> dict[str, t.Any]:
        costs = dict.fromkeys(("on_demand_cost", "committed_cost", "total_cost"), 0.0)
        return {**costs, "cost_status": WITHDRAWN, "read_at": self.datadog_tap.read_at}

    @override
    def get_url_params(self, context: Context | None, next_page_token: t.Any) -> dict[str, t.Any]:
        assert context is not None  # noqa: S101
        params = {
            **month_range_params(context["first"], context["last"]),
            "fields": "*",
            "include_descendants": flag(self.include_descendants),
        }
        tag_keys = self.datadog_tap.settings.cost_attribution_tag_keys
        if tag_keys:
            params["tag_breakdown_keys"] = ",".join(tag_keys)
        return self.with_cursor(params, next_page_token)

    @override
    def fields_problem(self, attributes: dict[str, t.Any]) -> str | None:
        """An item names its org and month, its tags are lists of text, its values numbers."""
        tags, values = attributes.get("tags"), attributes.get("values")
        if tags is not None and not (
            isinstance(tags, dict)
            and all(
                isinstance(v, list) and all(isinstance(x, str) for x in v) for v in tags.values()
            )
        ):
            return "has attributes.tags that are not lists of text"
        if not isinstance(values, dict) or not all(
            value is None or type(value) in {int, float} for value in values.values()
        ):
            return "has attributes.values that is not an object of numbers"
        return instant_problem(attributes.get("month"), "attributes.month")

    @override
    def records_for_months(self, months: list[dt.datetime]) -> t.Iterable[dict[str, t.Any]]:
        site = self.datadog_tap.settings.site
        if site in NO_ATTRIBUTION_SITES and not self.datadog_tap.settings.api_url:
            self.periods_read = set()  # not an answer: withdraw nothing
            self.logger.warning(
                "cost_attribution: Datadog does not offer cost attribution on %s (US1-FED): "
                "no rows",
                site,
            )
            return []
        try:
            return list(super().records_for_months(months))
        except DatadogGaveUpError:
            raise
        except DatadogAPIError as exc:
            self.periods_read = set()  # a refusal, not an answer: withdraw nothing
            self.logger.warning(
                "cost_attribution: no rows this run, the other streams go on: %s (cost "
                "attribution needs a plan with Usage Attribution, and usage_read and "
                "billing_read)",
                exc,
            )
            return []

    @override
    def records_from_item(self, item: dict[str, t.Any]) -> t.Iterable[dict[str, t.Any]]:
        attributes = item["attributes"]
        month = month_of(attributes["month"])
        tags = attributes.get("tags")
        measures: dict[str, dict[str, t.Any]] = {}
        for name, value in attributes["values"].items():
            match = VALUE_KEY.match(name)
            if match:
                measures.setdefault(match["dimension"], {})[match["measure"]] = value
        row = {
            "month": isoformat(month),
            **org_identity(attributes, ("public_id", "org_name")),
            "tag_set": tag_set(tags),
            "tags": tags,
            "tag_config_source": attributes.get("tag_config_source"),
            "updated_at": attributes.get("updated_at"),
            "cost_status": self.status_of(month),
            "read_at": self.datadog_tap.read_at,
        }
        for dimension, values in measures.items():
            yield {
                **row,
                "billing_dimension": dimension,
                **{measure: values.get(measure) for measure in MEASURES},
            }
