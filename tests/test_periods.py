"""Calendar rules: windows Datadog accepts, month ranges, finality."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from tap_datadog_costs import periods

UTC = dt.timezone.utc


def at(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=UTC)


def test_windows_with_child_orgs_are_at_most_24_hours_and_cover_the_range() -> None:
    windows = list(
        periods.hour_windows(at(2026, 1, 1, 5), at(2026, 1, 4, 7), include_descendants=True)
    )
    assert windows[0][0] == at(2026, 1, 1, 5)
    assert windows[-1][1] == at(2026, 1, 4, 7)
    assert all(end - start <= dt.timedelta(hours=24) for start, end in windows)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(windows))
    assert len(windows) == 4


def test_windows_for_one_org_span_two_calendar_months() -> None:
    windows = list(
        periods.hour_windows(at(2025, 12, 31), at(2026, 6, 1), include_descendants=False)
    )
    assert windows == [
        (at(2025, 12, 31), at(2026, 2, 28)),
        (at(2026, 2, 28), at(2026, 4, 28)),
        (at(2026, 4, 28), at(2026, 6, 1)),
    ]


def test_windows_start_at_the_hour_and_end_at_the_last_complete_hour() -> None:
    windows = list(
        periods.hour_windows(at(2026, 1, 1, 5, 30), at(2026, 1, 1, 7, 10), include_descendants=True)
    )
    assert windows == [(at(2026, 1, 1, 5), at(2026, 1, 1, 7))]


def test_empty_range_has_no_window() -> None:
    assert (
        list(periods.hour_windows(at(2026, 1, 1), at(2026, 1, 1), include_descendants=True)) == []
    )


def test_months_between_includes_every_month_touched_end_exclusive() -> None:
    assert periods.months_between(at(2025, 11, 20), at(2026, 2, 1)) == [
        at(2025, 11, 1),
        at(2025, 12, 1),
        at(2026, 1, 1),
    ]
    assert periods.months_between(at(2025, 11, 20), at(2026, 2, 1, 0, 1))[-1] == at(2026, 2, 1)


@pytest.mark.parametrize(
    ("now", "first_open"),
    [
        (at(2026, 11, 16, 23), at(2026, 10, 1)),  # October not final until after the 16th
        (at(2026, 11, 17, 0), at(2026, 11, 1)),  # from the 17th only November is open
        (at(2026, 1, 5), at(2025, 12, 1)),  # across a year boundary
    ],
)
def test_historical_cost_is_final_after_the_16th_of_the_next_month(
    now: dt.datetime, first_open: dt.datetime
) -> None:
    assert periods.first_open_historical_month(now) == first_open


def test_mappings_only_the_current_month_is_open() -> None:
    assert periods.first_open_mapping_month(at(2026, 3, 31, 23)) == at(2026, 3, 1)


def test_estimated_cost_covers_previous_and_current_month() -> None:
    assert periods.estimated_cost_months(at(2026, 1, 10)) == (at(2025, 12, 1), at(2026, 1, 1))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03", at(2026, 3, 1)),
        ("2026-03-15T13:00:00+00:00", at(2026, 3, 15, 13)),
        ("2026-03-15T13:00:00Z", at(2026, 3, 15, 13)),
        ("2026-03-15T13:00:00.561Z", at(2026, 3, 15, 13, 0, 0, 561000)),
        ("2026-03-15", at(2026, 3, 15)),
        ("2026-03-15T15:00:00+02:00", at(2026, 3, 15, 13)),
    ],
)
def test_dates_are_parsed_leniently_into_utc(text: str, expected: dt.datetime) -> None:
    assert periods.parse_instant(text) == expected
