"""TLS: a certificate that does not verify, a company CA bundle, and the organizations probe.

Trickled, endless and gzip-bombed answers are cases of tests/test_hostile.py.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import typing as t

import pytest

from simulator import DatadogSimulator
from tests.support.clock import NOW, clock_env
from tests.support.endpoints import ORGS, SUMMARY, VALIDATE
from tests.support.logs import error_lines
from tests.support.running import run_cli, sync
from tests.support.settings import recent_config, tap_config

if t.TYPE_CHECKING:
    from pathlib import Path


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


def test_the_connection_test_says_a_certificate_failure_alone_and_never_blames_the_keys(
    https: DatadogSimulator, tmp_path: Path
) -> None:
    result = run_cli("--test", config=recent_config(https), tmp_path=tmp_path)
    assert result.returncode == 1
    (line,) = error_lines(result.stderr)
    assert line.split(" | ")[-1] == (
        f"GET {VALIDATE}: the TLS certificate of 127.0.0.1 could not be verified: if a company "
        "proxy inspects TLS, set ca_bundle (or REQUESTS_CA_BUNDLE) to its CA bundle file"
    )
    assert b"Traceback" not in result.stderr


@pytest.mark.parametrize("what", ["not PEM", "a PEM key, no certificate"])
@pytest.mark.parametrize("mode", [(), ("--test",)], ids=["sync", "test"])
def test_a_ca_bundle_that_holds_no_certificate_is_refused_before_any_request_naming_it(
    https: DatadogSimulator,
    certificate: tuple[str, str],
    tmp_path: Path,
    what: str,
    mode: tuple[str, ...],
) -> None:
    """A file such as /etc/passwd, or the certificate's private key in place of the certificate."""
    bundle = tmp_path / "passwd"
    bundle.write_text("root:x:0:0:root:/root:/bin/bash\n")
    path = str(bundle) if what == "not PEM" else certificate[1]
    https.clear_requests()
    result = run_cli(*mode, config=recent_config(https, ca_bundle=path), tmp_path=tmp_path)
    assert result.returncode == 1
    (line,) = error_lines(result.stderr)
    assert line.split(" | ")[-1].startswith(
        "ca_bundle: the file holds no PEM certificate (-----BEGIN CERTIFICATE-----): "
    ), line
    assert b"Traceback" not in result.stderr
    assert https.requests == []


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
