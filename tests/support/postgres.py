"""A PostgreSQL server of the test's own, and the psql client to query it."""

from __future__ import annotations

import contextlib
import functools
import os
import subprocess
import tempfile
import typing as t
from pathlib import Path

if t.TYPE_CHECKING:
    from collections.abc import Iterator

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
