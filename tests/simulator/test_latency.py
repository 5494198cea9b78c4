"""Latency: answers come late, requests in flight are served at once, and the simulator's report
of what it answered; `python -m simulator --latency` and `--rate-limit`.

No timing assertion: a client timeout shorter than the latency shows the wait, and the
simulator's own count of requests in progress shows the overlap.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading

import pytest
import requests

from simulator import PARENT_KEYS, DatadogSimulator
from simulator.__main__ import main
from tests.simulator.common import NOW, call
from tests.support.clock import clock_env
from tests.support.endpoints import ORGS, SUMMARY, VALIDATE
from tests.support.paths import ROOT

#: Long enough for requests sent together to be in progress together, short for the suite.
LATENCY = 1.0
#: A limit whose period (a calendar day) the test never crosses: the clock starts at NOW, noon.
DAY = 86400


def at_once(sim: DatadogSimulator, count: int, path: str = ORGS) -> list[requests.Response]:
    """``count`` requests to ``path``, each from its own thread, sent together."""
    start = threading.Barrier(count)
    answers: list[requests.Response] = []

    def one() -> None:
        start.wait()
        answers.append(call(sim, path))

    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_an_answer_comes_after_the_latency() -> None:
    with DatadogSimulator(now=NOW, latency=LATENCY) as sim:
        assert sim.report() == "answered: nothing; peak in progress: 0"
        with pytest.raises(requests.ReadTimeout):
            requests.get(sim.url + VALIDATE, headers={"DD-API-KEY": PARENT_KEYS[0]}, timeout=0.1)
        sim.set_latency(0)
        assert call(sim, ORGS).status_code == 200
        for seconds in (-1, float("nan"), float("inf")):
            with pytest.raises(ValueError, match="a latency is 0 or more seconds"):
                sim.set_latency(seconds)
    with pytest.raises(ValueError, match="whole numbers of 1 or more"):
        DatadogSimulator(now=NOW, rate_limit=(0, 10))


def test_requests_in_flight_are_served_at_once() -> None:
    """The server is threaded: eight clients waiting on the latency are all in progress."""
    with DatadogSimulator(now=NOW, latency=LATENCY) as sim:
        answers = at_once(sim, 8)
        assert [answer.status_code for answer in answers] == [200] * 8
        assert sim.peak_in_progress == 8
        assert sim.report() == f"answered: 200 x 8; peak in progress: 8; busiest: {ORGS} x 8"


def test_every_endpoint_has_the_rate_limit_and_counts_a_request_as_it_arrives() -> None:
    """Five requests in flight at once against a limit of three: two are refused, although
    none was answered when the others arrived (a gateway meters first, then the API answers)."""
    with DatadogSimulator(now=NOW, latency=LATENCY, rate_limit=(3, DAY)) as sim:
        statuses = sorted(answer.status_code for answer in at_once(sim, 5))
        assert statuses == [200, 200, 200, 429, 429]
        summary = call(sim, SUMMARY, {"start_month": "2026-10"})
        assert summary.status_code == 200  # an endpoint of its own, with a budget of its own
        headers = summary.headers
        assert (headers["X-RateLimit-Limit"], headers["X-RateLimit-Period"]) == ("3", str(DAY))
        assert sim.answered == {200: 4, 429: 2}
        assert sim.report() == (
            f"answered: 200 x 4, 429 x 2; peak in progress: 5; busiest: {ORGS} x 5"
        )


@pytest.mark.parametrize(
    ("flag", "value", "says"),
    [
        ("--latency", "-1", "'-1' is not a number of seconds of 0 or more (e.g. 0.3)"),
        ("--latency", "soon", "'soon' is not a number of seconds of 0 or more (e.g. 0.3)"),
        ("--rate-limit", "300", "'300' is not REQUESTS/SECONDS, two whole numbers of 1 or more"),
        ("--rate-limit", "0/60", "'0/60' is not REQUESTS/SECONDS, two whole numbers of 1 or more"),
        ("--rate-limit", "5/0.5", "'5/0.5' is not REQUESTS/SECONDS, two whole numbers of 1 or"),
    ],
)
def test_a_bad_flag_is_one_error_naming_it(
    flag: str, value: str, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--port", "0", flag, value])
    assert exited.value.code == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(errors) == 1
    assert errors[0].startswith(f"python -m simulator: error: argument {flag}: {says}")


def test_module_entry_point_answers_late_at_its_rate_limit_and_says_what_it_answered() -> None:
    """`--latency` and `--rate-limit` reach the simulator; on SIGTERM its last line is its
    report, which a benchmark running it reads."""
    process = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--port", "0", "--latency", "0.5",
         "--rate-limit", f"1/{DAY}"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True, env=clock_env(NOW),
    )  # fmt: skip
    try:
        url = process.stdout.readline().split()[-1]
        headers = {"DD-API-KEY": PARENT_KEYS[0]}
        with pytest.raises(requests.ReadTimeout):  # answered late ...
            requests.get(url + VALIDATE, headers=headers, timeout=0.1)
        refused = requests.get(url + VALIDATE, headers=headers, timeout=10)
        assert refused.status_code == 429  # ... but counted as it arrived
        assert refused.headers["X-RateLimit-Limit"] == "1"
        assert refused.headers["X-RateLimit-Period"] == str(DAY)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    report = process.stdout.read()
    process.stdout.close()
    assert re.fullmatch(
        rf"answered: 200 x 1, 429 x 1; peak in progress: [12]; busiest: {VALIDATE} x 2\n", report
    ), report
