"""Docs that work as written: every command in README.md and docs/*.md is run, or named here.

A command is a line of a ```bash, ```sh or ```cron block (the cron line's command), or a line
starting with ``$ `` in a plain block. Each doc's commands run in order, in one bash script with
``set -euo pipefail``, in a scratch copy of the project (the repository's files, with this
checkout's ``.venv`` and ``.meltano`` linked in, committed to a git repository of its own) against
the simulator; the README's commands must leave its ``git status`` clean (no key, no stray
file). Only the placeholders in SUBSTITUTIONS are replaced (keys, the site, the user's own
paths, the benchmarks' sizes), and each must still be found in the docs. A command this test
does not run must be in ELSEWHERE with the test or step that runs it; a new command in the docs
fails here until it is one or the other.
"""

from __future__ import annotations

import os
import re
import subprocess
import typing as t

import pytest

from simulator import PARENT_KEYS, DatadogSimulator
from tests.support.clock import NOW, clock_env
from tests.support.loaders import project_copy
from tests.support.paths import ROOT

if t.TYPE_CHECKING:
    from pathlib import Path

POSTGRES_RUN = (
    ".venv/bin/meltano --environment=prod run tap-datadog-costs target-postgres dbt-postgres:build"
)
#: Commands run by another test or by CI, and which.
ELSEWHERE = {
    "make run": "tests/test_quickstart.py runs scripts/quickstart.py, what make run runs "
    "after make install",
    "make test": ".ci/run",
    "make e2e": ".ci/run",
    "make lint": ".ci/run",
    "make lock": "tests/test_package.py::test_make_lock_pins_every_dependency_at_versions_that_"
    "install (in a scratch copy)",
    ".venv/bin/meltano install": "make install (before every test run; .ci/run)",
    "make focus-validator": "make e2e (.ci/run), before tests/test_focus_validator.py",
    ".venv-focus/bin/python scripts/check_focus.py --data-file rows.csv --version 1.3": (
        "tests/support/focus.py::validate, for 1.2 and 1.3 (tests/test_focus_validator.py; "
        "the dbt focus model's table in tests/test_meltano.py)"
    ),
    POSTGRES_RUN: "tests/test_meltano.py::test_the_dbt_models_build_and_pass_their_tests_on_"
    "postgresql (the same run on a PostgreSQL server the test starts)",
    **dict.fromkeys(
        (
            "python3 -m venv .dagster && .dagster/bin/pip install -r orchestrate/requirements.txt",
            (
                "PATH=$PWD/.venv/bin:$PATH .dagster/bin/dagster job execute -f "
                "orchestrate/dagster_accounts.py -j every_account"
            ),
        ),
        "tests/test_accounts.py::test_dagster_runs_every_account_in_parallel (a venv of its own "
        "from orchestrate/requirements.txt, then the job against three simulated accounts)",
    ),
}
#: Commands that serve until stopped: run for a moment, and the first line checked.
SERVERS = {".venv/bin/python -m simulator": "Datadog API simulator listening on http://127.0.0.1:"}
#: What a doc's readers may already have, made before its commands run: scaling.md's backfill
#: runs where the usual runs' state is there (their bookmarks are later than its end_date).
BEFORE = {
    "scaling.md": "TAP_DATADOG_COSTS_START_DATE=2026-11-01T00:00:00Z .venv/bin/meltano "
    "--environment=dev run tap-datadog-costs target-jsonl\n",
}
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def substitutions(url: str, project: Path, user_project: Path) -> dict[str, str]:
    """Placeholders in the docs, and what stands for them here."""
    return {
        "TAP_DATADOG_COSTS_API_KEY=... TAP_DATADOG_COSTS_APP_KEY=...": (
            f"TAP_DATADOG_COSTS_API_KEY={PARENT_KEYS[0]} TAP_DATADOG_COSTS_APP_KEY={PARENT_KEYS[1]}"
        ),
        '"api_key": "...", "app_key": "...", "site": "datadoghq.eu"': (
            f'"api_key": "{PARENT_KEYS[0]}", "app_key": "{PARENT_KEYS[1]}", "api_url": "{url}"'
        ),
        "set tap-datadog-costs api_key ...": f"set tap-datadog-costs api_key {PARENT_KEYS[0]}",
        "set tap-datadog-costs app_key ...": f"set tap-datadog-costs app_key {PARENT_KEYS[1]}",
        "cd /srv/tap-datadog-costs": f"cd {project}",
        # docs/scaling.md's accounts: each with the simulator's keys here
        **{
            f"{account}_DATADOG_API_KEY=... {account}_DATADOG_APP_KEY=...": (
                f"{account}_DATADOG_API_KEY={PARENT_KEYS[0]} "
                f"{account}_DATADOG_APP_KEY={PARENT_KEYS[1]}"
            )
            for account in ("ACME_US1", "ACME_EU1", "CLIENT_B")
        },
        # the benchmarks: each command as written, at a size that checks it works
        ".venv/bin/python benchmarks/tap_vs_bare_loop.py": (
            ".venv/bin/python benchmarks/tap_vs_bare_loop.py --days 2 --rounds 1 --orgs 3"
        ),
        ".venv/bin/python benchmarks/state_size.py": (
            ".venv/bin/python benchmarks/state_size.py --orgs 3"
        ),
        ".venv/bin/python -m benchmarks.reliability": (
            ".venv/bin/python -m benchmarks.reliability --days 2"
        ),
        ".venv/bin/python -m benchmarks.wall_time": (
            ".venv/bin/python -m benchmarks.wall_time --days 2 --orgs 3 --latency 0"
        ),
        # "in your project": a new one (user_meltano_project), the tap from this checkout
        "cat > tap-datadog-costs.yml": f"cd {user_project} && cat > tap-datadog-costs.yml",
        "git+https://github.com/<you>/tap-datadog-costs.git": str(ROOT),
    }


def blocks_of(text: str) -> list[list[str]]:
    """The commands of one Markdown text, block by block, in order."""
    blocks = []
    for language, body in BLOCK.findall(text):
        lines = body.replace("\\\n", " ").splitlines()
        commands: list[str] = []
        if language in {"bash", "sh"}:
            heredoc = None
            for line in lines:
                if heredoc is not None:  # the body of a here-document belongs to its command
                    commands[-1] += "\n" + line
                    heredoc = None if line == heredoc else heredoc
                    continue
                if line.strip() and not line.lstrip().startswith("#"):
                    commands.append(line)
                    match = re.search(r"<<'?(\w+)'?", line)
                    heredoc = match.group(1) if match else None
        elif language == "cron":
            commands = [line.split(None, 5)[5] for line in lines if line.strip()]
        elif not language:
            commands = [line[2:] for line in lines if line.startswith("$ ")]
        if commands:
            blocks.append(commands)
    return blocks


def without_comment(command: str) -> str:
    return re.sub(r"\s+#.*$", "", command.split("\n", 1)[0]).strip()


def test_every_command_is_run_here_or_named_in_elsewhere() -> None:
    """The list of commands this test knows about is the docs' list."""
    named = {
        without_comment(command)
        for doc in DOCS
        for block in blocks_of(doc.read_text())
        for command in block
    }
    assert set(ELSEWHERE) <= named, set(ELSEWHERE) - named  # no stale entries
    assert set(SERVERS) <= named, set(SERVERS) - named


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project's files, as a clone has them, with this checkout's installs,
    committed to a git repository of its own: what the docs' commands leave is ``git status``.
    """
    project = project_copy(tmp_path_factory.mktemp("docs") / "tap-datadog-costs")
    git = ["git", "-c", "user.name=docs", "-c", "user.email=docs@example.invalid"]
    subprocess.run([*git, "init", "-q"], cwd=project, check=True)
    (project / ".git" / "info" / "exclude").write_text("/.venv\n/.meltano\n")  # the links
    subprocess.run([*git, "add", "-A"], cwd=project, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "a clone"], cwd=project, check=True)
    return project


def user_meltano_project(base: Path, env: dict[str, str]) -> Path:
    """A new Meltano project as `meltano init` makes it: the README's "project of your own"."""
    subprocess.run(
        [str(ROOT / ".venv" / "bin" / "meltano"), "init", "--no-usage-stats", "their-project"],
        cwd=base, env=env, capture_output=True, check=True, timeout=300,
    )  # fmt: skip
    return base / "their-project"


def script_for(blocks: list[list[str]], replace: dict[str, str]) -> tuple[str, list[str]]:
    """The bash script running a doc's blocks, each in a subshell of its own as a reader runs
    one block after another (placeholders replaced); and the commands it leaves to ELSEWHERE.
    """
    lines, skipped = [], []
    for block in blocks:
        lines.append("(set -euxo pipefail")
        for command in block:
            bare = without_comment(command)
            if bare in ELSEWHERE:
                skipped.append(bare)
                continue
            if bare in SERVERS:
                lines.append(  # its output beside the project's folder, never in it
                    f"( timeout 5 {bare} > ../server.out || true ) && "
                    f"grep -q '{SERVERS[bare]}' ../server.out"
                )
                continue
            for placeholder, value in replace.items():
                command = command.replace(placeholder, value)  # noqa: PLW2901
            lines.append(command)
        lines.append(") || exit 1")
    return "\n".join(lines) + "\n", skipped


@pytest.mark.e2e  # every doc's commands: Meltano runs, dbt, the benchmarks, the accounts
@pytest.mark.parametrize(
    "doc", [doc for doc in DOCS if blocks_of(doc.read_text())], ids=lambda doc: doc.name
)
def test_the_commands_of_each_doc_work_as_written(doc: Path, scratch: Path, tmp_path: Path) -> None:
    blocks = blocks_of(doc.read_text())
    commands = [command for block in blocks for command in block]
    with DatadogSimulator(now=NOW) as sim:  # every command runs at its instant (libfaketime)
        env = {
            **{
                k: v
                for k, v in clock_env(sim.now).items()
                if not k.startswith("TAP_DATADOG_COSTS_")
            },
            "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}",
            "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path}/meltano.db",
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "TAP_DATADOG_COSTS_API_URL": sim.url,  # what prod's site would be: the simulator
        }
        user_project = (
            user_meltano_project(tmp_path, env) if "meltano invoke" in doc.read_text() else tmp_path
        )
        replace = substitutions(sim.url, scratch, user_project)
        used = {p for p in replace if any(p in c for c in commands)}
        script, skipped = script_for(blocks, replace)
        result = subprocess.run(
            ["bash", "-c", BEFORE.get(doc.name, "") + script],  # noqa: S607
            cwd=scratch, env=env, capture_output=True, text=True, timeout=1800, check=False,
        )  # fmt: skip
    assert result.returncode == 0, f"{doc.name}:\n{result.stderr[-4000:]}"
    ran = [c for c in commands if without_comment(c) not in ELSEWHERE]
    assert len(ran) + len(skipped) == len(commands)
    if doc.name == "README.md":
        readme_only = {p for p in replace if "_DATADOG_API_KEY=" not in p and "benchmark" not in p}
        assert used == readme_only - {"cd /srv/tap-datadog-costs"}, readme_only - used
        check_readme_outcome(scratch, result.stdout, result.stderr)
    if doc.name in {"benchmarks.md", "reliability.md"}:  # each benchmark ran, at its small size
        assert used == {p for p in replace if "benchmark" in p and p in doc.read_text()}, used
    if doc.name == "scheduling.md":
        assert "cd /srv/tap-datadog-costs" in used
    if doc.name == "scaling.md":  # every account ran, with its keys
        assert {p for p in replace if "_DATADOG_API_KEY=" in p} <= used
        for account in ("acme-us1", "acme-eu1", "client-b"):
            assert (scratch / "output" / "prod" / f"{account}.duckdb").exists(), account
        # The backfill kept a state of its own: its second piece resumed from its first.
        assert "nothing to read: the state's bookmark" not in result.stderr
        assert "hourly_usage: incremental from the bookmark 2026-10-02T" in result.stderr


def check_readme_outcome(project: Path, output: str, log: str) -> None:
    """What the README's commands must have done, beyond exiting 0."""
    # The state round-trip: the second and third standalone runs resumed from bookmarks.
    resumed = re.findall(r"hourly_usage: incremental from the bookmark (\S+?),", log)
    assert len(resumed) >= 2, log[-3000:]  # a STATE line, then a target's state
    assert "Connection test passed" in log
    # The prod setting from .env took effect, and meltano.yml is the clone's, byte for byte.
    assert re.search(
        r"^start_date \[env: TAP_DATADOG_COSTS_START_DATE\] current value: "
        r"'2026-01-01T00:00:00Z' \(from the TAP_DATADOG_COSTS_START_DATE variable in `\.env`\)$",
        output,
        re.MULTILINE,
    ), output[-3000:]
    assert first_hour(project / "output" / "prod" / "datadog_costs.duckdb") == "2026-01-01"
    assert (project / "meltano.yml").read_bytes() == (ROOT / "meltano.yml").read_bytes()
    # Every output path the README names for these commands is where a run wrote.
    for path in output_paths(README_OUTPUTS):
        assert any(path.fullmatch(p.relative_to(project).as_posix()) for p in files(project)), path
    # No key and no stray file left: config.json and .env are ignored, outputs under output/.
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],  # noqa: S607
        cwd=project, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert status == "", status


#: The README's sections whose commands the docs test runs and whose output paths it checks.
README_OUTPUTS = ("## Running with Meltano", "## Running standalone")
#: What a placeholder in a documented output path stands for.
PLACEHOLDERS = {
    "<environment>": "(dev|prod)",
    "<stream>": "[a-z_]+",
    "<YYYYMMDDThhmmss>": r"\d{8}T\d{6}",
}


def output_paths(sections: tuple[str, ...]) -> list[re.Pattern[str]]:
    """The ``output/...`` paths the README names in ``sections``, placeholders as patterns."""
    readme = (ROOT / "README.md").read_text()
    texts = [readme.split(title, 1)[1].split("\n## ", 1)[0] for title in sections]
    named = {path for text in texts for path in re.findall(r"`(output/[^`\s]+)`", text)}
    assert named, sections
    patterns = []
    for path in sorted(named):
        pattern = re.escape(path.rstrip("/"))
        for placeholder, stands_for in PLACEHOLDERS.items():
            pattern = pattern.replace(re.escape(placeholder), stands_for)
        assert "<" not in pattern, path  # a placeholder this test does not know
        patterns.append(re.compile(pattern + ("(/.+)?" if path.endswith("/") else "")))
    return patterns


def files(project: Path) -> list[Path]:
    """Every file under the project's output/."""
    return [path for path in (project / "output").rglob("*") if path.is_file()]


def first_hour(database: Path) -> str:
    """The first day of hourly usage target-duckdb loaded."""
    import duckdb  # noqa: PLC0415 - the end-to-end lane's

    with duckdb.connect(str(database), read_only=True) as connection:
        (first,) = connection.execute("select min(timestamp) from datadog.hourly_usage").fetchone()  # type: ignore[misc]
    return str(first)[:10]
