"""The Quickstart's main job: Datadog costs into DuckDB with Meltano, then a summary.

With TAP_DATADOG_COSTS_API_KEY and TAP_DATADOG_COSTS_APP_KEY set, it extracts from Datadog
(Meltano environment `prod`); without them, from the bundled Datadog API simulator on
127.0.0.1 (environment `dev`). Meltano keeps the state, so a second run is incremental.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MELTANO = ROOT / ".venv" / "bin" / "meltano"
DUCKDB_PYTHON = ROOT / ".meltano" / "loaders" / "target-duckdb" / "venv" / "bin" / "python"
# Meltano reads TARGET_DUCKDB_FILEPATH too: one variable moves the database for both.
DATABASE = Path(os.environ.get("TARGET_DUCKDB_FILEPATH", ROOT / "output" / "datadog_costs.duckdb"))
LOG = DATABASE.parent / "quickstart.log"
KEYS = ("TAP_DATADOG_COSTS_API_KEY", "TAP_DATADOG_COSTS_APP_KEY")
SIMULATOR_PORT = 8999


def free_port(preferred: int) -> int:
    """The preferred port if nothing listens there, else any free one."""
    for port in (preferred, 0):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    msg = "no free port on 127.0.0.1"
    raise RuntimeError(msg)


def start_simulator() -> tuple[subprocess.Popen[str], str]:
    """Start `python -m simulator` and wait for its 'listening on' line."""
    port = free_port(SIMULATOR_PORT)
    process = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline() if process.stdout else ""
    if "listening on " not in line:
        process.kill()
        msg = f"the Datadog API simulator did not start: {line.strip() or 'no output'}"
        raise RuntimeError(msg)
    return process, line.rsplit(" ", 1)[-1].strip()


def main() -> int:
    """Extract with Meltano (Datadog or the simulator), then print the summary."""
    env = dict(os.environ)
    present = [key for key in KEYS if env.get(key)]
    DATABASE.parent.mkdir(exist_ok=True)
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
    command = [
        str(MELTANO),
        f"--environment={environment}",
        "run",
        "tap-datadog-costs",
        "target-duckdb",
    ]
    try:
        with LOG.open("w") as log:
            result = subprocess.run(
                command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, check=False
            )
    finally:
        if simulator is not None:
            simulator.terminate()
            simulator.wait(timeout=30)
    if result.returncode != 0:
        tail = LOG.read_text(errors="replace").splitlines()[-15:]
        print("\n".join(tail))
        print(f"meltano run failed (exit {result.returncode}); full log: {LOG}")
        return result.returncode
    print(f"meltano run tap-datadog-costs target-duckdb: done (log: {LOG})")
    return subprocess.run(
        [str(DUCKDB_PYTHON), str(ROOT / "scripts" / "duckdb_summary.py"), str(DATABASE)],
        cwd=ROOT,
        check=False,
    ).returncode


if __name__ == "__main__":
    sys.exit(main())
