"""The keys the simulator knows, and the role each pair plays in the simulated account.

Datadog tells the caller's org and permissions by the DD-API-KEY and DD-APPLICATION-KEY pair;
here each pair stands for one kind of caller the tap must handle.
"""

from __future__ import annotations

PARENT_KEYS = ("sim-api-key", "sim-app-key")
CHILD_KEYS = ("child-api-key", "child-app-key")
EMPTY_KEYS = ("empty-api-key", "empty-app-key")
#: The parent org's keys, with an application key lacking org_management (usage and billing only).
USAGE_ONLY_KEYS = ("sim-api-key", "usage-only-app-key")
#: A parent account whose plan has no usage attribution: cost attribution answers 403, every
#: other endpoint answers as it answers the parent's keys.
NO_ATTRIBUTION_KEYS = ("noattr-api-key", "noattr-app-key")
KEY_ROLES = {
    PARENT_KEYS: "parent",
    CHILD_KEYS: "child",
    EMPTY_KEYS: "empty",
    USAGE_ONLY_KEYS: "usage_only",
    NO_ATTRIBUTION_KEYS: "no_attribution",
}
#: Roles that see the whole account (the parent org's keys).
PARENT_ROLES = ("parent", "usage_only", "no_attribution")
API_KEY_ROLES = {api_key: role for (api_key, _), role in KEY_ROLES.items()}
