"""The Quickstart's main job: Datadog costs into DuckDB, the dbt models, then a FinOps report.

Meltano runs the tap into target-duckdb, then dbt builds and tests the models in transform/.

With TAP_DATADOG_COSTS_API_KEY and TAP_DATADOG_COSTS_APP_KEY set, it extracts from Datadog
(Meltano environment `prod`); without them, from the bundled Datadog API simulator on
127.0.0.1 (environment `dev`). Each environment has its own DuckDB file, so the simulator's
made-up orgs never sit beside real ones. Meltano keeps the state, so a second run is
incremental: the tap's progress lines are shown as they come, and the run ends by saying whether
it was a first extract or incremental and what changed in each table, then the FinOps summary
and the HTML report (scripts/report.py, from the dbt report models) beside the DuckDB file.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import typing as t
from pathlib import Path

from tap_datadog_costs.progress import NO_BOOKMARK_FULL_TABLE, NO_BOOKMARK_YET

ROOT = Path(__file__).resolve().parent.parent
MELTANO = ROOT / ".venv" / "bin" / "meltano"
DUCKDB_PYTHON = ROOT / ".meltano" / "loaders" / "target-duckdb" / "venv" / "bin" / "python"
REPORT = ROOT / "scripts" / "report.py"
KEYS = ("TAP_DATADOG_COSTS_API_KEY", "TAP_DATADOG_COSTS_APP_KEY")
SIMULATOR_PORT = 8999
TAP = "tap-datadog-costs"
DBT = "dbt-duckdb"
#: dbt's last word on a build: how many models and tests passed, warned, failed.
DBT_OUTCOME = re.compile(r"Done\. PASS=\d+ WARN=\d+ ERROR=\d+ SKIP=\d+.*")
#: A stream's line from the tap (tap_datadog_costs/progress.py): its plan, progress or summary.
STREAM_LINE = re.compile(
    r"^(\w+): (first extract|full table|incremental from|the snapshot of|[\d,]+/|done in )"
)
PLAN = re.compile(r"^(\w+): (first extract|full table|incremental from the bookmark (\S+?)[:,] )")
DONE = re.compile(r"^(\w+): done in .+?: ([\d,]+) rows?, .*, bookmark (.+)$")
#: Meltano's warning before a first extract (no state saved for the job yet), and the job.
MELTANO_NO_STATE = "No state was found, complete import."
MELTANO_JOB = re.compile(r"^Running job with name '([^']+)'")
#: What changed, for a summary's bookmark when there is none.
NO_BOOKMARK = {NO_BOOKMARK_FULL_TABLE: "full table", NO_BOOKMARK_YET: "no bookmark yet (no rows)"}


def start_simulator() -> tuple[subprocess.Popen[str], str]:
    """Start `python -m simulator` and wait for its 'listening on' line.

    On SIMULATOR_PORT if it is free, else on any free port: the simulator binds the port itself,
    so a port taken between a probe and the bind (another run starting) cannot stop it.
    """
    line = ""
    for port in (SIMULATOR_PORT, 0):
        process = subprocess.Popen(
            [sys.executable, "-m", "simulator", "--port", str(port)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL if port else None,  # a taken port is not worth a traceback
            text=True,
        )
        line = process.stdout.readline() if process.stdout else ""
        if "listening on " in line:
            return process, line.rsplit(" ", 1)[-1].strip()
        process.kill()
        process.wait()
    msg = f"the Datadog API simulator did not start: {line.strip() or 'no output'}"
    raise RuntimeError(msg)


def loader_config(environment: str, env: dict[str, str]) -> tuple[Path, str]:
    """target-duckdb's database file and schema in this environment, as Meltano resolves them."""
    result = subprocess.run(
        [str(MELTANO), f"--environment={environment}", "config", "print", "target-duckdb"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    config = json.loads(result.stdout)
    return Path(config["filepath"]), config["default_target_schema"]


def table_counts(database: Path, schema: str) -> dict[str, int]:
    """Rows per table of the schema, read with target-duckdb's own duckdb (none yet: {})."""
    result = subprocess.run(
        [str(DUCKDB_PYTHON), str(REPORT), str(database), schema, "--counts"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return t.cast("dict[str, int]", json.loads(result.stdout))


#: Meltano's own words when a plugin fails: the cause is the plugin's ERROR line (meltano.yml
#: declares the tap's `structured-logging`, so Meltano passes its level on), shown instead.
MELTANO_FAILED = {"Extractor failed": "producer", "Loader failed": "consumer"}
PROBLEMS = {"warning", "error", "critical"}


class Console:
    """What the console shows of Meltano's JSON log lines.

    The tap's stream lines, dbt's outcome and problems, each once; and, for a failure no plugin
    said in an ERROR line, Meltano's own error with the last line of the plugin it names.
    """

    def __init__(self) -> None:
        self.stream_lines: list[str] = []
        self.job = "the job"
        self.shown: set[str] = set()  # a warning said at discovery and again at the sync: once
        self.meltano_errors: list[str] = []
        self.last_lines: dict[str, str] = {}  # per role (producer, consumer): its last line

    def take(self, entry: dict[str, t.Any]) -> None:
        """Show what one log line says, if it is worth showing."""
        event, level = str(entry.get("event", "")), entry.get("level")
        if started := MELTANO_JOB.match(event):
            self.job = started.group(1)
        if event == MELTANO_NO_STATE:  # not a problem: said in its place, as what it means
            print(f"  Meltano has no state for {self.job} yet: a first extract", flush=True)
        elif entry.get("string_id") == TAP and STREAM_LINE.match(event):
            self.stream_lines.append(event)
            print(f"  {event}", flush=True)
        elif entry.get("name") == DBT and DBT_OUTCOME.search(event):
            print(f"  dbt: {DBT_OUTCOME.search(event).group(0)}", flush=True)  # type: ignore[union-attr]
        elif level in PROBLEMS and "string_id" not in entry and level != "warning":
            self.meltano_errors.append(entry.get("err") or event)  # Meltano's own words
        elif level in PROBLEMS and (line := f"  {level.upper()}: {event}") not in self.shown:
            self.shown.add(line)
            print(line, flush=True)
        for role in ("producer", "consumer"):
            if entry.get(role):
                self.last_lines[role] = f"{entry.get('string_id')}'s last line: {event}"

    def failed(self) -> None:
        """The cause of a failed run, unless a plugin's ERROR line said it already."""
        if not any(line.startswith("  ERROR: ") for line in self.shown):
            print(f"  ERROR: {self.cause()}", flush=True)

    def cause(self) -> str:
        """Meltano's first error, with the last line of the plugin it names.

        For a failure no plugin said in an ERROR line (a target's traceback ends in its cause).
        """
        event = (
            self.meltano_errors[0]
            if self.meltano_errors
            else "Meltano stopped without an error line"
        )
        role = MELTANO_FAILED.get(event)
        return f"{event} ({self.last_lines[role]})" if role in self.last_lines else event


def extract(command: list[str], env: dict[str, str], log_path: Path) -> tuple[int, list[str]]:
    """Run Meltano, its whole log to ``log_path``; show the tap's stream lines and problems live.

    A failure shows its cause once: a plugin's ERROR line, else Meltano's own error with the
    last line the failed plugin wrote. Returns the exit status and the tap's stream lines.
    """
    console = Console()
    with (
        log_path.open("w") as log,
        subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        ) as process,
    ):
        assert process.stdout is not None  # noqa: S101 - piped above
        for raw in process.stdout:
            log.write(raw)
            try:
                entry = json.loads(raw)
            except ValueError:
                continue
            console.take(entry)
    if process.returncode:
        console.failed()
    return process.returncode, console.stream_lines


def what_changed(
    stream_lines: list[str], before: dict[str, int], after: dict[str, int]
) -> list[str]:
    """First extract or incremental, then per stream: rows read, new in the table, bookmark."""
    plans = {m.group(1): m for line in stream_lines if (m := PLAN.match(line))}
    resumed = {stream: m.group(3) for stream, m in plans.items() if m.group(3)}
    if resumed:
        lines = ["Incremental run: each incremental stream resumed from the last run's bookmark."]
    else:
        lines = ["First extract: no stream had a bookmark; every table was read from start_date."]
    for line in stream_lines:
        done = DONE.match(line)
        if not done:
            continue
        stream, rows, bookmark = done.group(1), done.group(2), done.group(3)
        new = after.get(stream, 0) - before.get(stream, 0)
        merged = int(rows.replace(",", "")) - new
        moved = (
            f"bookmark {resumed[stream]} -> {bookmark}"
            if stream in resumed
            else NO_BOOKMARK.get(bookmark, f"bookmark {bookmark}")
        )
        lines.append(
            f"  {stream:<28} {rows:>9} rows read: {new:+,} in the table ({after.get(stream, 0):,} "
            f"now){f', {merged:,} merged into rows already there' if merged > 0 else ''}; {moved}"
        )
    return lines


def main() -> int:
    """Extract with Meltano (Datadog or the simulator), then say what changed and report."""
    env = dict(os.environ)
    present = [key for key in KEYS if env.get(key)]
    simulator = None
    if len(present) == len(KEYS):
        environment = "prod"
        print("Datadog keys found in the environment: extracting from Datadog.")
    elif present:
        missing = ", ".join(key for key in KEYS if key not in present)
        print(f"Only one Datadog key is set: set {missing} too (or neither, for the simulator).")
        return 2
    else:
        simulator, url = start_simulator()
        env["TAP_DATADOG_COSTS_API_URL"] = url
        environment = "dev"
        print(
            f"No Datadog keys in the environment ({', '.join(KEYS)}): "
            f"extracting from the bundled Datadog API simulator at {url}."
        )
    database, schema = loader_config(environment, env)
    database.parent.mkdir(parents=True, exist_ok=True)
    log_path = database.parent / "quickstart.log"
    print(f"Environment {environment}: into {database}, schema {schema}.")
    before = table_counts(database, schema)
    command = [str(MELTANO), f"--environment={environment}", "--log-format=json", "run", TAP,
               "target-duckdb", "dbt-duckdb:build"]  # fmt: skip
    env["DBT_DUCKDB_PATH"] = str(database)  # the models read the file the loader wrote
    try:
        status, stream_lines = extract(command, env, log_path)
    finally:
        if simulator is not None:
            simulator.terminate()
            simulator.wait(timeout=30)
    if status != 0:
        print(f"meltano run failed (exit {status}); full log: {log_path}")
        return status
    print(f"meltano run {TAP} target-duckdb {DBT}:build: done (log: {log_path})")
    print("\n".join(what_changed(stream_lines, before, table_counts(database, schema))))
    report = database.parent / "report.html"
    return subprocess.run(
        [str(DUCKDB_PYTHON), str(REPORT), str(database), schema, "--html", str(report)],
        cwd=ROOT,
        check=False,
    ).returncode


if __name__ == "__main__":
    sys.exit(main())
