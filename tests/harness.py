"""The one module of shared test tools: run the tap, read what it wrote, filter what it asked.

Tests run the tap in-process (``sync``) or as the CLI (``run_cli``, ``start_cli``,
``run_until_killed``) against the Datadog simulator (``simulator/``), and read its output as a
target would (``SyncResult``, ``merge_on_keys``).

No test reads today's date. Every simulator starts at a fixed instant (``NOW``, unless a test
names another); in-process, the clock starts there too (tests/conftest.py: time-machine);
every child process (the CLI, Meltano, ``scripts/quickstart.py``, the docs' commands) runs
under libfaketime started at the instant of the simulator it talks to (``clock_env``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
import hashlib
import io
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import typing as t
from decimal import Decimal
from pathlib import Path

import pendulum

from simulator import PARENT_KEYS, DatadogSimulator
from tap_datadog_costs.tap import TapDatadogCosts

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterator

ROOT = Path(__file__).resolve().parent.parent

#: The suite's instant: simulators start at it, in-process runs (tests/conftest.py) and child
#: processes (``clock_env``) run at it, unless a test names another. Expectations use it too.
NOW = dt.datetime(2026, 11, 10, 12, tzinfo=dt.timezone.utc)
#: libfaketime (Debian's `faketime`; .ci/run installs it): a child process's clock.
FAKETIME_LIBRARY = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
#: Preloaded before it: Python's time.sleep under libfaketime 0.9.10 (see the file).
CLOCK_NANOSLEEP = ROOT / "tests" / "clock" / "clock_nanosleep.c"

# The endpoints, as Datadog's API reference spells them.
VALIDATE = "/api/v1/validate"
ORGS = "/api/v1/org"
SUMMARY = "/api/v1/usage/summary"
HOURLY = "/api/v2/usage/hourly_usage"
MAPPING = "/api/v2/usage/billing_dimension_mapping"
HISTORICAL = "/api/v2/usage/historical_cost"
ESTIMATED = "/api/v2/usage/estimated_cost"
PROJECTED = "/api/v2/usage/projected_cost"
ACTIVE = "/api/v2/cost_by_tag/active_billing_dimensions"

PRIMARY_KEYS = {
    "organizations": ("public_id",),
    "hourly_usage": ("timestamp", "public_id", "product_family", "usage_type"),
    "billing_dimension_mappings": ("month", "billing_dimension", "endpoint"),
    "historical_costs": ("month", "view", "public_id", "product_name", "charge_type"),
    "estimated_costs": ("month", "view", "public_id", "product_name", "charge_type"),
    "daily_costs": ("date", "view", "public_id", "product_name", "charge_type", "row_type"),
    "projected_costs": (
        "snapshot_date",
        "month",
        "view",
        "public_id",
        "product_name",
        "charge_type",
    ),
    "active_billing_dimensions": ("month", "billing_dimension"),
    "billable_usage": ("month", "public_id", "billable_key"),
    "cost_attribution": ("month", "public_id", "tag_set", "billing_dimension"),
    "focus_costs": (
        "BillingPeriodStart",
        "x_View",
        "SubAccountId",
        "ServiceName",
        "x_ChargeType",
    ),
}
#: Projected cost "becomes available around the 12th of the month" (the simulator's rule too).
PROJECTED_FROM_DAY = 12
#: A month's cost attribution comes "no later than the 19th" of the next (the simulator's: on it).
ATTRIBUTED_FROM_DAY = 19


def streams_with_rows(now: dt.datetime, start: dt.datetime) -> set[str]:
    """The streams a run at ``now`` from ``start`` has rows for.

    Every stream, but projected cost before the 12th (a run then has none: an info line), and
    cost attribution when no month from ``start``'s to last month is attributed yet.
    """
    last_month = (now.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    if now.day < ATTRIBUTED_FROM_DAY:
        last_month = (last_month - dt.timedelta(days=1)).replace(day=1)
    attributed = (start.year, start.month) <= (last_month.year, last_month.month)
    without = {"projected_costs"} if now.day < PROJECTED_FROM_DAY else set()
    return set(PRIMARY_KEYS) - without - (set() if attributed else {"cost_attribution"})


#: When the run read a row: the tap's clock, which no oracle predicts.
RUN_FIELDS = ("read_at", "x_ReadAt")

# ---- settings ------------------------------------------------------------------------------
#: The simulator's parent keys as settings.
KEY_SETTINGS = {"api_key": PARENT_KEYS[0], "app_key": PARENT_KEYS[1]}
#: Settings the tap refuses before any request, and the setting each error must name.
BAD_SETTINGS: list[tuple[dict[str, t.Any], str]] = [
    ({"api_key": "k"}, "app_key"),
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
    ({**KEY_SETTINGS, "start_date": "2026-11"}, "start_date"),
    ({**KEY_SETTINGS, "api_key": "sim-api-key\u0001x"}, "api_key"),
    ({**KEY_SETTINGS, "app_key": "sim-app\nkey"}, "app_key"),
    ({**KEY_SETTINGS, "api_url": "https://user:s3cr3t-pass@127.0.0.1:8443"}, "api_url"),
    ({**KEY_SETTINGS, "api_url": "https://127.0.0.1:99999"}, "api_url"),
    ({**KEY_SETTINGS, "api_url": "https://127.0.0.1/api?token=s3cr3t-pass"}, "api_url"),
    ({**KEY_SETTINGS, "api_url": "https://127.0.0.1/#s3cr3t-pass"}, "api_url"),
]
#: Secrets some BAD_SETTINGS carry outside the keys: never to be printed either.
URL_SECRET = "s3cr3t-pass"  # noqa: S105 - a test value, to be found nowhere
#: The last N days up to the simulator's hour: the same windows on every run.
DAYS = 5


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


# ---- the clock of child processes ----------------------------------------------------------
@functools.cache
def clock_nanosleep_library() -> Path:
    """CLOCK_NANOSLEEP compiled with the system's C compiler, once per version of the file."""
    source = CLOCK_NANOSLEEP.read_bytes()
    digest = hashlib.sha256(source).hexdigest()[:16]
    library = Path(tempfile.gettempdir()) / f"tap-datadog-costs-clock-{digest}.so"
    if not library.exists():
        if shutil.which("cc") is None:
            msg = "no C compiler to build tests/clock/clock_nanosleep.c (apt-get install gcc)"
            raise RuntimeError(msg)
        handle, name = tempfile.mkstemp(prefix=f"{library.name}.", dir=library.parent)
        os.close(handle)
        building = Path(name)
        subprocess.run(
            ["cc", "-shared", "-fPIC", "-O2", "-o", str(building), str(CLOCK_NANOSLEEP), "-ldl"],  # noqa: S607
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        building.chmod(0o755)
        building.replace(library)  # whole or not at all, for a test run beside this one
    return library


def faketime_env(now: dt.datetime) -> dict[str, str]:
    """Variables that start a child process's clock at ``now`` (libfaketime), ticking from there.

    The processes it starts share its clock, as on a real machine (FAKETIME_DONT_RESET; else
    each would start at ``now`` again). The monotonic clock stays real, so timeouts and waits
    last what they say.
    """
    if not FAKETIME_LIBRARY.exists():
        msg = f"libfaketime is not installed (apt-get install faketime): no {FAKETIME_LIBRARY}"
        raise RuntimeError(msg)
    return {
        "LD_PRELOAD": f"{clock_nanosleep_library()} {FAKETIME_LIBRARY}",
        "FAKETIME": f"@{now.astimezone(dt.timezone.utc):%Y-%m-%d %H:%M:%S}",
        "FAKETIME_DONT_RESET": "1",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        "TZ": "UTC",  # the start-at time is read as local time
    }


#: libfaketime's shared clock of a process tree: /dev/shm/faketime_shm_<pid of its first process>
#: and sem.faketime_sem_<pid>, removed when that process exits, unless it is killed or execs.
FAKETIME_SHARED = re.compile(r"^(?:sem\.faketime_sem|faketime_shm)_(\d+)$")


@contextlib.contextmanager
def faketime_leftovers_removed(shm: Path = Path("/dev/shm")) -> Iterator[None]:  # noqa: S108
    """Remove the shared clocks that process trees started meanwhile left behind (their first
    process is gone)."""
    before = set(shm.iterdir()) if shm.is_dir() else set()
    try:
        yield
    finally:
        for path in set(shm.iterdir()) - before if shm.is_dir() else ():
            match = FAKETIME_SHARED.match(path.name)
            if match and not Path(f"/proc/{match.group(1)}").exists():
                path.unlink(missing_ok=True)


def clock_env(now: dt.datetime, environ: t.Mapping[str, str] | None = None) -> dict[str, str]:
    """``environ`` (default: this process's) for a child process whose clock starts at ``now``.

    Any libfaketime setting inherited (a whole test run under ``faketime``) is replaced.
    """
    base = os.environ if environ is None else environ
    kept = {k: v for k, v in base.items() if not k.startswith("FAKETIME") and k != "LD_PRELOAD"}
    return {**kept, **faketime_env(now)}


# ---- running the tap -----------------------------------------------------------------------
@dataclasses.dataclass
class SyncResult:
    """The Singer messages of one run."""

    messages: list[dict[str, t.Any]]

    def records(self, stream: str) -> list[dict[str, t.Any]]:
        return records_of(self.messages, stream)

    @property
    def states(self) -> list[dict[str, t.Any]]:
        return [m["value"] for m in self.messages if m["type"] == "STATE"]

    @property
    def final_state(self) -> dict[str, t.Any]:
        return self.states[-1]

    def bookmark(self, stream: str) -> str | None:
        value = self.final_state["bookmarks"].get(stream, {})
        return value.get("replication_key_value")


def records_of(messages: list[dict[str, t.Any]], stream: str) -> list[dict[str, t.Any]]:
    """The records of one stream among Singer messages."""
    return [m["record"] for m in messages if m["type"] == "RECORD" and m["stream"] == stream]


def parse_messages(output: bytes) -> list[dict[str, t.Any]]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def sync(
    config: dict[str, t.Any],
    state: dict[str, t.Any] | None = None,
    *,
    now: dt.datetime | None = None,
    streams: tuple[str, ...] | None = None,
    catalog: dict[str, t.Any] | None = None,
) -> SyncResult:
    """One in-process run of every stream (or of ``streams`` only, or of ``catalog``), as
    `tap --config --state` (with a catalog selecting them) would do it.

    ``now`` moves the clock (time-machine, ticking) so that calendar rules such as
    month finality can be exercised on any day; the simulator must share that "now".
    """
    buffer = io.BytesIO()
    stdout = io.TextIOWrapper(buffer, encoding="utf-8")
    clock = (
        pendulum.travel_to(pendulum.instance(now), freeze=False)
        if now
        else contextlib.nullcontext()
    )
    with clock, contextlib.redirect_stdout(stdout):
        if streams is not None:
            catalog = selecting(config, streams)
        tap = TapDatadogCosts(config=config, state=state, catalog=catalog)
        tap.sync_all()
        stdout.flush()
    return SyncResult(parse_messages(buffer.getvalue()))


def selecting(config: dict[str, t.Any], streams: tuple[str, ...]) -> dict[str, t.Any]:
    """The tap's catalog with only ``streams`` selected."""
    catalog = TapDatadogCosts(config=config).catalog_dict
    for entry in catalog["streams"]:
        for metadata in entry["metadata"]:
            if metadata["breadcrumb"] == []:
                metadata["metadata"]["selected"] = entry["tap_stream_id"] in streams
    return catalog


def cli_command(*args: str) -> list[str]:
    """The installed tap's command line, as a user runs it."""
    return [sys.executable, "-m", "tap_datadog_costs", *args]


def run_cli(
    *args: str,
    config: dict[str, t.Any] | None = None,
    tmp_path: Path,
    now: dt.datetime = NOW,
    **environ: str,
) -> subprocess.CompletedProcess[bytes]:
    """Run the tap CLI in a child process (real exit codes, real stderr), ``environ`` set.

    Its clock starts at ``now``: the instant of the simulator it talks to.
    """
    command = cli_command(*args)
    if config is not None:
        config_file = tmp_path / "config.json"
        config_file.write_text(json.dumps(config))
        command += ["--config", str(config_file)]
    env = clock_env(now, {**os.environ, "PYTHONPATH": str(ROOT), **environ})
    return subprocess.run(command, capture_output=True, check=False, env=env, timeout=300)


#: Runs a command and writes its peak RSS (kB) to a file: a small process of its own, as Linux
#: counts in a child's peak the memory of the process it was forked from (pytest is large).
MEASURE = """
import resource, subprocess, sys
status = subprocess.run(sys.argv[2:], check=False).returncode
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
open(sys.argv[1], "w").write(str(peak))
sys.exit(status)
"""


def run_cli_measured(
    config: dict[str, t.Any], tmp_path: Path, timeout: float = 300, now: dt.datetime = NOW
) -> tuple[subprocess.CompletedProcess[bytes], float]:
    """A sync through the CLI (its clock at ``now``), and the peak memory (RSS, MB) of the
    tap's process."""
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))
    peak_file = tmp_path / "peak_kb"
    command = [
        sys.executable,
        "-c",
        MEASURE,
        str(peak_file),
        *cli_command("--config", str(config_file)),
    ]
    env = clock_env(now, {**os.environ, "PYTHONPATH": str(ROOT)})
    result = subprocess.run(command, capture_output=True, check=False, env=env, timeout=timeout)
    return result, int(peak_file.read_text()) / 1024


def start_cli(
    tmp_path: Path, name: str, config: dict[str, t.Any], *args: str, now: dt.datetime = NOW
) -> subprocess.Popen[bytes]:
    """The CLI in a child process at DEBUG level (its clock at ``now``), its output piped back."""
    config_file = tmp_path / f"{name}.json"
    config_file.write_text(json.dumps(config))
    command = cli_command(*args, "--config", str(config_file))
    env = clock_env(now, {**os.environ, "PYTHONPATH": str(ROOT), "LOGLEVEL": "DEBUG"})
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


def finish(processes: dict[str, subprocess.Popen[bytes]]) -> dict[str, tuple[int, bytes, bytes]]:
    """Exit code, stdout and stderr of each process."""
    results = {}
    for name, process in processes.items():
        stdout, stderr = process.communicate(timeout=120)
        results[name] = (process.returncode, stdout, stderr)
    return results


def nth(
    predicate: Callable[[dict[str, t.Any]], bool], count: int
) -> Callable[[dict[str, t.Any]], bool]:
    """True at the ``count``-th message that satisfies ``predicate``."""
    seen = 0

    def reached(message: dict[str, t.Any]) -> bool:
        nonlocal seen
        seen += predicate(message)
        return seen == count

    return reached


def run_until_killed(
    config_file: Path, kill_when: Callable[[dict[str, t.Any]], bool], now: dt.datetime = NOW
) -> tuple[list[dict[str, t.Any]], bool]:
    """Run the CLI (its clock at ``now``) and kill it at the first message ``kill_when`` accepts.

    Returns what a target got by then, and whether the kill came before the run ended.
    """
    messages = []
    with subprocess.Popen(
        cli_command("--config", str(config_file)),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
        env=clock_env(now),
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            messages.append(json.loads(line))
            if kill_when(messages[-1]):
                process.kill()  # near the end it may have written all: the rest goes unread
                return messages, True
    return messages, False


# ---- reading the tap's log -----------------------------------------------------------------
@contextlib.contextmanager
def tap_log() -> Iterator[list[str]]:
    """The messages the tap logs at INFO and above while the block runs (in this process)."""
    lines: list[str] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("tap-datadog-costs")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def error_lines(stderr: bytes) -> list[str]:
    """The ERROR lines a CLI run wrote."""
    return [line for line in stderr.decode().splitlines() if "| ERROR " in line]


#: A stream's plan line (tap_datadog_costs/progress.py): full table, first extract, or
#: incremental from a bookmark (group 3).
PLAN_LINE = re.compile(
    r"(\w+): (first extract \(no bookmark\)|full table|incremental from the bookmark (\S+?))"
    r"[:,] "
)


def starting_bookmarks(log: str) -> dict[str, str | None]:
    """Per incremental stream, the bookmark its plan line resumed from (None: first extract)."""
    return {
        match.group(1): match.group(3)
        for match in PLAN_LINE.finditer(log)
        if match.group(2) != "full table"
    }


def retries(log: list[str]) -> list[str]:
    """The tap's retry lines: one per wait after a failed request."""
    return [line for line in log if "; retrying in " in line]


def pacing_waits(log: list[str]) -> list[float]:
    """Seconds of each wait the pacer announced before a request it knew would get 429."""
    return [float(m[1]) for line in log if (m := re.search(r"spent: waiting ([\d.]+) s", line))]


# ---- what the simulator saw ----------------------------------------------------------------
def requests_to(requests: list[dict[str, t.Any]], path: str) -> list[dict[str, t.Any]]:
    """The logged requests to one endpoint."""
    return [r for r in requests if r["path"] == path]


def statuses(sim: DatadogSimulator, path: str) -> list[int]:
    """The status of each answer to one endpoint, in order."""
    return [r["status"] for r in requests_to(sim.requests, path)]


def wait_for_requests(sim: DatadogSimulator, path: str, count: int) -> list[int]:
    """Statuses of requests to ``path`` once ``count`` are logged (a slow answer logs late)."""
    deadline = time.monotonic() + 10
    while len(statuses(sim, path)) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return statuses(sim, path)


# ---- what a target holds -------------------------------------------------------------------
def data_of(record: dict[str, t.Any]) -> dict[str, t.Any]:
    """A record without the fields that say when it was read (RUN_FIELDS)."""
    return {k: v for k, v in record.items() if k not in RUN_FIELDS}


def merge_on_keys(
    stream: str, *record_lists: list[dict[str, t.Any]]
) -> dict[tuple[t.Any, ...], dict[str, t.Any]]:
    """What a target merging on the primary keys holds: the last write of each key (its data)."""
    merged: dict[tuple[t.Any, ...], dict[str, t.Any]] = {}
    for records in record_lists:
        for record in records:
            merged[tuple(record[k] for k in PRIMARY_KEYS[stream])] = data_of(record)
    return merged


def duplicate_keys(stream: str, records: list[dict[str, t.Any]]) -> list[tuple[t.Any, ...]]:
    """Primary keys that occur more than once (our own check: the SDK's cannot fail)."""
    seen: set[tuple[t.Any, ...]] = set()
    duplicates = []
    for record in records:
        key = tuple(record[k] for k in PRIMARY_KEYS[stream])
        if key in seen or any(part is None for part in key):
            duplicates.append(key)
        seen.add(key)
    return duplicates


def assert_same_records(result: SyncResult, clean: SyncResult) -> None:
    """Every stream emitted exactly the data an undisturbed run emits, in the same order."""
    for stream in PRIMARY_KEYS:
        ours = [data_of(record) for record in result.records(stream)]
        assert ours == [data_of(record) for record in clean.records(stream)], stream


# ---- a PostgreSQL server of the test's own ------------------------------------------------
def quickstart(
    tmp_path: Path, now: dt.datetime = NOW, **env: str
) -> subprocess.CompletedProcess[str]:
    """`make run`'s script, into a DuckDB file and Meltano database of ``tmp_path``.

    Its clock, and so that of the simulator it starts (``python -m simulator``), of Meltano,
    the tap and dbt, starts at ``now``.
    """
    clean = {k: v for k, v in clock_env(now).items() if not k.startswith("TAP_DATADOG_COSTS_")}
    isolated = {
        "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path}/meltano.db",
        "TARGET_DUCKDB_FILEPATH": str(tmp_path / "costs.duckdb"),
    }
    return subprocess.run(
        [sys.executable, "scripts/quickstart.py"],
        cwd=ROOT,
        env={**clean, **isolated, **env},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


#: The tap's record count per stream, as Meltano logs it (a metric line per stream).
RECORD_COUNT = re.compile(
    r'"metric":\s*"record_count",\s*"value":\s*(\d+),\s*"tags":\s*\{"stream":\s*"(\w+)"'
)


def meltano(*args: str, env: dict[str, str]) -> str:
    """Run the project's meltano; return its log (tap and target output included)."""
    result = subprocess.run(
        [str(Path(sys.executable).parent / "meltano"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


def records_emitted(log: str) -> dict[str, int]:
    """Records the tap sent per stream, from a Meltano log."""
    counts: dict[str, int] = {}
    for value, stream in RECORD_COUNT.findall(log):
        counts[stream] = counts.get(stream, 0) + int(value)
    return counts


def table_counts(database: Path) -> dict[str, int]:
    """Rows per table of target-duckdb's schema ``datadog``."""
    import duckdb  # noqa: PLC0415 - only the tests that load DuckDB need it

    with duckdb.connect(str(database), read_only=True) as connection:
        tables = connection.execute(
            "select table_name from information_schema.tables where table_schema = 'datadog'"
        ).fetchall()
        return {
            name: connection.execute(f'select count(*) from datadog."{name}"').fetchone()[0]  # type: ignore[index]
            for (name,) in tables
        }


def project_copy(project: Path) -> Path:
    """A copy of the project's files at ``project``, as a clone has them, with this checkout's
    installs (``.venv``, ``.meltano``) linked in."""
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],  # noqa: S607
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (project / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, project / name)
    for installed in (".venv", ".meltano"):
        (project / installed).symlink_to(ROOT / installed)
    return project


POSTGRES_BIN = Path("/usr/lib/postgresql/15/bin")


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """A throw-away PostgreSQL 15 on 127.0.0.1 and a free port; yields its SQLAlchemy URL.

    Run as root (CI), the server runs as the ``postgres`` user, as initdb requires.
    """
    import shutil  # noqa: PLC0415 - only the tests that start a server need it
    import socket  # noqa: PLC0415

    if not (POSTGRES_BIN / "initdb").exists():
        msg = "PostgreSQL 15 is not installed (apt-get install postgresql): .ci/run installs it"
        raise RuntimeError(msg)
    as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    folder = Path(tempfile.mkdtemp(prefix="tap-datadog-costs-pg-"))
    if as_owner:
        shutil.chown(folder, "postgres", "postgres")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data = folder / "data"
    pg_ctl = [*as_owner, str(POSTGRES_BIN / "pg_ctl"), "-D", str(data)]
    run = functools.partial(subprocess.run, check=True, capture_output=True, timeout=120)
    try:
        run(
            [
                *as_owner,
                str(POSTGRES_BIN / "initdb"),
                "-D",
                str(data),
                "-A",
                "trust",
                "-U",
                "postgres",
            ]
        )
        # The server's output goes to a file: it would keep our pipes open after pg_ctl exits.
        options = f"-h 127.0.0.1 -p {port} -k {folder}"
        run([*pg_ctl, "-o", options, "-l", str(folder / "server.log"), "-w", "start"])
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        if (data / "postmaster.pid").exists():
            run([*pg_ctl, "-m", "immediate", "stop"])
        shutil.rmtree(folder, ignore_errors=True)


def psql(url: str, query: str) -> list[list[str]]:
    """Rows of a query, as text, through the psql client."""
    server = url.split("@", 1)[1]
    host, rest = server.split(":", 1)
    port, database = rest.split("/", 1)
    command = ["psql", "-h", host, "-p", port, "-U", "postgres", "-d", database, "-At", "-F", "\t"]
    result = subprocess.run(
        [*command, "-c", query], check=True, capture_output=True, text=True, timeout=60
    )
    return [line.split("\t") for line in result.stdout.splitlines()]


# ---- Datadog's latest answer, per period (withdrawals) ------------------------------------
#: Per stream whose open periods Datadog revises: the field naming a row's period, the fields a
#: period's rows are added up by, and the amount added.
PERIOD_SUMS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "historical_costs": ("month", ("charge_type",), "cost"),
    "estimated_costs": ("month", ("charge_type",), "cost"),
    "daily_costs": ("month", ("charge_type",), "cost"),
    "projected_costs": ("snapshot_date", ("month", "charge_type"), "cost"),
    "focus_costs": ("BillingPeriodStart", ("x_ChargeType",), "BilledCost"),
    "billable_usage": ("month", ("billable_key",), "org_billable_usage"),
    "cost_attribution": ("month", ("billing_dimension",), "total_cost"),
}
#: FOCUS rows are the committed and on-demand charges, under their FOCUS names.
FOCUS_AS_COSTS = {
    "BillingPeriodStart": "month",
    "x_ChargeType": "charge_type",
    "BilledCost": "cost",
}


def as_day(value: object) -> str:
    """A date-time (text, or a database's datetime) as its day; any other value as text."""
    text = str(value)
    return text[:10] if re.match(r"\d{4}-\d\d-\d\d", text) else text


def period_sums(
    stream: str, rows: t.Iterable[dict[str, t.Any]]
) -> dict[tuple[t.Any, ...], Decimal]:
    """Per period and group (PERIOD_SUMS), the rows' amounts to the cent (zeros left out)."""
    period, by, amount = PERIOD_SUMS[stream]
    sums: dict[tuple[t.Any, ...], Decimal] = {}
    for row in rows:
        key = tuple(as_day(row[field]) for field in (period, *by))
        sums[key] = sums.get(key, Decimal(0)) + Decimal(repr(row[amount] or 0))
    return {key: round(value, 2) for key, value in sums.items() if round(value, 2)}


def latest_answer_rows(
    sim: DatadogSimulator, stream: str, start: dt.datetime
) -> list[dict[str, t.Any]]:
    """The rows Datadog's latest answers hold for ``stream`` from ``start`` to the simulator's
    now (sub-org view, no tag keys), with the fields PERIOD_SUMS adds up."""
    now = sim.now
    historical = sim.expected_costs("historical", start, now, "sub-org")
    estimated = sim.expected_costs("estimated", start, now, "sub-org")
    published = {row["month"] for row in historical}
    final = {row["month"] for row in historical if row["cost_status"] == "final"}
    focus = historical + [row for row in estimated if row["month"] not in published]
    months = [start.replace(day=1, hour=0)]
    while (following := (months[-1] + dt.timedelta(days=32)).replace(day=1)) <= now:
        months.append(following)
    answers = {
        "historical_costs": historical,
        "estimated_costs": estimated,
        "projected_costs": [  # under our charge types' names
            {
                **row,
                "snapshot_date": f"{now:%Y-%m-%d}",
                "charge_type": row["charge_type"].removeprefix("projected_"),
            }
            for row in sim.expected_costs("projected", start, now, "sub-org")
        ],
        # A month closed from final historical cost, else its estimate.
        "daily_costs": [row for row in historical if row["month"] in final]
        + [row for row in estimated if row["month"] not in final],
        "focus_costs": [
            {name: row[ours] for name, ours in FOCUS_AS_COSTS.items()}
            for row in focus
            if row["charge_type"] in ("committed", "on_demand")
        ],
        "billable_usage": [row for month in months for row in sim.expected_billable_usage(month)],
        "cost_attribution": sim.expected_cost_attribution(start, now, []),
    }
    return answers[stream]


def periods_of(stream: str, rows: t.Iterable[dict[str, t.Any]]) -> set[str]:
    """The periods (days, as PERIOD_SUMS keys them) that ``rows`` hold."""
    return {as_day(row[PERIOD_SUMS[stream][0]]) for row in rows}


def assert_periods_add_up_to_the_latest_answer(
    sim: DatadogSimulator,
    stream: str,
    held: t.Iterable[dict[str, t.Any]],
    periods: set[str],
    start: dt.datetime,
) -> None:
    """What a target holds of ``periods`` adds up, per period and group, to Datadog's latest."""
    ours = {k: v for k, v in period_sums(stream, held).items() if k[0] in periods}
    latest = period_sums(stream, latest_answer_rows(sim, stream, start))
    expected = {k: v for k, v in latest.items() if k[0] in periods}
    assert ours == expected, (stream, sorted(set(ours.items()) ^ set(expected.items())))
