"""The tap's settings for tests: configs pointing at the simulator, and the bad settings table."""

from __future__ import annotations

import datetime as dt
import typing as t

from simulator import PARENT_KEYS, DatadogSimulator

#: The simulator's parent keys as settings.
KEY_SETTINGS = {"api_key": PARENT_KEYS[0], "app_key": PARENT_KEYS[1]}
#: Settings with a default that a config may set to null (Meltano's `null`, a JSON null).
NULLED = (
    "request_timeout", "max_answer_mb", "lookback_hours", "product_families",
    "progress_seconds", "include_descendants", "max_concurrency",
)  # fmt: skip
#: Settings the tap refuses before any request, and the setting each error must name.
BAD_SETTINGS: list[tuple[dict[str, t.Any], str]] = [
    ({"api_key": "k"}, "app_key"),
    # null for a setting with a default: no value (the schema lets null through)
    *(({**KEY_SETTINGS, setting: None}, setting) for setting in NULLED),
    ({**KEY_SETTINGS, "site": "datadoghq.moon"}, "site"),
    ({**KEY_SETTINGS, "start_date": "last tuesday"}, "start_date"),
    ({**KEY_SETTINGS, "start_date": "2999-01-01T00:00:00Z"}, "start_date"),
    (
        {**KEY_SETTINGS, "start_date": "2026-02-01T00:00:00Z", "end_date": "2026-01-01T00:00:00Z"},
        "start_date",
    ),
    ({**KEY_SETTINGS, "product_families": []}, "product_families"),
    ({**KEY_SETTINGS, "api_url": "http://proxy.example.com"}, "api_url"),
    ({**KEY_SETTINGS, "api_url": "ftp://127.0.0.1"}, "api_url"),
    ({**KEY_SETTINGS, "lookback_hours": -1}, "lookback_hours"),
    ({**KEY_SETTINGS, "lookback_hours": 100_000_000_000}, "lookback_hours"),
    ({**KEY_SETTINGS, "request_timeout": 100_000_000_000}, "request_timeout"),
    ({**KEY_SETTINGS, "max_concurrency": 0}, "max_concurrency"),
    ({**KEY_SETTINGS, "max_concurrency": 1000}, "max_concurrency"),
    ({**KEY_SETTINGS, "start_date": "2026-11"}, "start_date"),
    ({**KEY_SETTINGS, "start_date": "0001-01-01T00:00:00+05:00"}, "start_date"),
    ({**KEY_SETTINGS, "end_date": "2020-01-01T00:00:00Z"}, "end_date"),  # before retention
    ({**KEY_SETTINGS, "api_key": "sim-api-key\u0001x"}, "api_key"),
    ({**KEY_SETTINGS, "app_key": "sim-app\nkey"}, "app_key"),
    ({**KEY_SETTINGS, "api_key": "sim\u2019api-key"}, "api_key"),  # no HTTP header carries it
    ({**KEY_SETTINGS, "api_url": "https://user:s3cr3t-pass@127.0.0.1:8443"}, "api_url"),
    ({**KEY_SETTINGS, "api_url": "https://127.0.0.1:99999"}, "api_url"),
    ({**KEY_SETTINGS, "api_url": "https://127.0.0.1/api?token=s3cr3t-pass"}, "api_url"),
    ({**KEY_SETTINGS, "api_url": "https://127.0.0.1/#s3cr3t-pass"}, "api_url"),
]
#: Secrets some BAD_SETTINGS carry outside the keys: never to be printed either.
URL_SECRET = "s3cr3t-pass"  # noqa: S105 - a test value, to be found nowhere
#: The last N days up to the simulator's hour: the same windows on every run.
DAYS = 5
#: One request at a time. Faults and replayed answers queue per endpoint in arrival order: so
#: the Nth request is the Nth window's (or month's). Tests of what one request meets use it;
#: tests/test_in_flight.py covers faults, signals and limits with several requests in flight.
ONE_AT_A_TIME = {"max_concurrency": 1}


def tap_config(
    url: str, keys: tuple[str, str] = PARENT_KEYS, **settings: t.Any
) -> dict[str, t.Any]:
    """A config pointing the tap at the simulator."""
    return {"api_key": keys[0], "app_key": keys[1], "api_url": url, **settings}


def recent_config(
    sim: DatadogSimulator, days: int = DAYS, keys: tuple[str, str] = PARENT_KEYS, **more: t.Any
) -> dict[str, t.Any]:
    """The last ``days`` days up to the simulator's hour: the same windows on every run."""
    start = sim.now - dt.timedelta(days=days)
    return tap_config(
        sim.url, keys, start_date=start.isoformat(), end_date=sim.now.isoformat(), **more
    )
