"""Hostile answers: trickled, endless, gzip bombs, and TLS that does not verify.

Each case runs the CLI and checks that it ends (the subprocess timeout is the bound, not a
stopwatch), in one ERROR line and status 1, within bounded memory.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import typing as t

import pytest

from simulator import DatadogSimulator
from tests.support.clock import NOW, clock_env
from tests.support.endpoints import HOURLY, ORGS, SUMMARY
from tests.support.logs import error_lines
from tests.support.running import run_cli, run_cli_measured, sync
from tests.support.seen import statuses
from tests.support.settings import recent_config, tap_config

if t.TYPE_CHECKING:
    from pathlib import Path

#: Peak memory any of these runs may reach (a sync of this size needs about 100 MB).
RSS_BOUND_MB = 400


@pytest.mark.parametrize(
    ("kind", "seconds", "settings", "words"),
    [
        (
            "trickle",
            0.05,
            {"request_timeout": 2},
            "no whole answer from 127.0.0.1 within request_timeout (2 s)",
        ),
        (
            "endless",
            0,
            {"max_answer_mb": 1},
            "the answer from 127.0.0.1 is larger than max_answer_mb (1 MB)",
        ),
        ("gzipbomb", 0, {}, "the answer from 127.0.0.1 is larger than max_answer_mb (64 MB)"),
    ],
)
def test_a_hostile_answer_ends_in_one_line_within_the_limits(  # noqa: PLR0913, PLR0917
    api: DatadogSimulator,
    tmp_path: Path,
    kind: str,
    seconds: float,
    settings: dict[str, t.Any],
    words: str,
) -> None:
    api.inject(HOURLY, kind, count=2, seconds=seconds)
    config = recent_config(api, max_retries=1, **settings)
    result, peak_mb = run_cli_measured(config, tmp_path)
    assert result.returncode == 1
    (line,) = error_lines(result.stderr)
    assert f"GET {HOURLY}: {words}; gave up after 2 attempts (max_retries: 1)" in line
    assert peak_mb < RSS_BOUND_MB
    assert statuses(api, HOURLY) == [200, 200]  # the two answers it gave up on


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 (a company proxy's CA, say): cert and key files.

    Made on the clock of the runs that verify it: valid from the day before NOW (their start)
    for two days, whatever today's date.
    """
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",  # noqa: S607
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60, env=clock_env(NOW - dt.timedelta(days=1)),
    )  # fmt: skip
    return str(cert), str(key)


@pytest.fixture(scope="module")
def https(certificate: tuple[str, str]) -> t.Iterator[DatadogSimulator]:
    with DatadogSimulator(now=NOW, tls=certificate) as sim:
        yield sim


def test_a_certificate_that_does_not_verify_is_one_line_naming_the_host_and_not_retried(
    https: DatadogSimulator, tmp_path: Path
) -> None:
    https.clear_requests()
    result = run_cli(config=recent_config(https), tmp_path=tmp_path)
    assert result.returncode == 1
    (line,) = error_lines(result.stderr)
    assert line.endswith(
        "the TLS certificate of 127.0.0.1 could not be verified: if a company proxy inspects "
        "TLS, set ca_bundle (or REQUESTS_CA_BUNDLE) to its CA bundle file"
    )
    assert "retrying" not in result.stderr.decode()
    assert https.requests == []  # the handshake failed: nothing was asked


@pytest.mark.parametrize("how", ["ca_bundle", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"])
def test_the_ca_bundle_setting_and_the_environment_are_honoured(
    https: DatadogSimulator, certificate: tuple[str, str], tmp_path: Path, how: str
) -> None:
    settings = {"ca_bundle": certificate[0]} if how == "ca_bundle" else {}
    # REQUESTS_CA_BUNDLE wins over SSL_CERT_FILE (as in requests): empty it for that case.
    environ = {} if how == "ca_bundle" else {"REQUESTS_CA_BUNDLE": "", how: certificate[0]}
    result = run_cli(config=recent_config(https, days=1, **settings), tmp_path=tmp_path, **environ)
    assert result.returncode == 0, result.stderr[-2000:]
    assert b'"type":"RECORD"' in result.stdout


def test_a_ca_bundle_that_is_no_file_is_refused_before_any_request(tmp_path: Path) -> None:
    config = tap_config("https://127.0.0.1:9", ca_bundle=str(tmp_path / "nowhere.pem"))
    result = run_cli(config=config, tmp_path=tmp_path)
    assert result.returncode == 1
    (line,) = error_lines(result.stderr)
    assert "ca_bundle: no file at that path" in line


def test_the_organizations_probe_of_the_parent_goes_through_the_same_path(
    api: DatadogSimulator,
) -> None:
    """get_json (the /api/v1/org probe) has the same deadline and limits as the streams."""
    api.inject(ORGS, "endless", count=2)
    result = sync(recent_config(api, days=1, max_answer_mb=1, max_retries=1))
    assert [r["status"] for r in api.requests if r["path"] == SUMMARY] == [200]
    assert {o["is_parent"] for o in result.records("organizations")} == {None}
