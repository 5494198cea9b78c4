"""The pinned clock: the suite's instant (``NOW``) and the clock of child processes.

No test reads today's date. Every simulator starts at a fixed instant (``NOW``, unless a test
names another); in-process, the clock starts there too (tests/conftest.py: time-machine);
every child process (the CLI, Meltano, ``scripts/quickstart.py``, the docs' commands) runs
under libfaketime started at the instant of the simulator it talks to (``clock_env``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import typing as t
from pathlib import Path

from tests.support.paths import ROOT

if t.TYPE_CHECKING:
    from collections.abc import Iterator

#: The suite's instant: simulators start at it, in-process runs (tests/conftest.py) and child
#: processes (``clock_env``) run at it, unless a test names another. Expectations use it too.
NOW = dt.datetime(2026, 11, 10, 12, tzinfo=dt.timezone.utc)
#: The tap's default start_date at NOW (a Quickstart run has no start_date): 15 months before.
RETENTION_START = dt.datetime(2025, 8, 10, 12, tzinfo=dt.timezone.utc)
#: libfaketime (Debian's `faketime`; .ci/run installs it): a child process's clock.
FAKETIME_LIBRARY = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
#: Preloaded before it: Python's time.sleep under libfaketime 0.9.10 (see the file).
CLOCK_NANOSLEEP = ROOT / "tests" / "clock" / "clock_nanosleep.c"


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
