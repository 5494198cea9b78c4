"""The two Datadog key headers, sent on every request and never put in a URL."""

from __future__ import annotations

from singer_sdk.authenticators import APIAuthenticatorBase


class DatadogAuthenticator(APIAuthenticatorBase):
    """Sends DD-API-KEY and DD-APPLICATION-KEY."""

    def __init__(self, api_key: str, app_key: str) -> None:
        super().__init__()
        self.auth_headers = {"DD-API-KEY": api_key, "DD-APPLICATION-KEY": app_key}
