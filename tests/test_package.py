"""What `pip install` users get: a wheel and an sdist that install and run in a clean venv; and
the lock CI installs from, as `make lock` writes it."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import tarfile
import typing as t
import venv
import zipfile

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from tests.support.clock import clock_env
from tests.support.loaders import project_copy
from tests.support.paths import ROOT
from tests.support.running import parse_messages
from tests.support.settings import tap_config

pytestmark = pytest.mark.e2e  # the wheel and sdist built and installed in clean venvs

if t.TYPE_CHECKING:
    from pathlib import Path

    from simulator import DatadogSimulator

SCHEMAS = {
    "hourly_usage.json",
    "costs.json",
    "billing_dimension_mappings.json",
    "organizations.json",
}


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """`python -m build` of this checkout: the wheel and the sdist."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    return {"wheel": wheel, "sdist": sdist}


def test_the_wheel_and_sdist_carry_the_schemas_and_no_test_code(dist: dict[str, Path]) -> None:
    wheel_names = zipfile.ZipFile(dist["wheel"]).namelist()
    assert {name.rsplit("/", 1)[-1] for name in wheel_names if "/schemas/" in name} >= SCHEMAS
    assert not [name for name in wheel_names if name.startswith(("tests/", "simulator/"))]
    with tarfile.open(dist["sdist"]) as sdist:
        sdist_names = sdist.getnames()
    assert {name.rsplit("/", 1)[-1] for name in sdist_names if "/schemas/" in name} >= SCHEMAS


@pytest.mark.parametrize("kind", ["wheel", "sdist"])
def test_it_installs_in_a_clean_venv_and_extracts(
    dist: dict[str, Path], live: DatadogSimulator, tmp_path: Path, kind: str
) -> None:
    venv.create(tmp_path / "venv", with_pip=True)
    python = tmp_path / "venv" / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    constraints = ["-c", str(ROOT / "requirements.lock")] if sys.version_info[:2] == (3, 11) else []
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", *constraints, str(dist[kind])],
        check=True, capture_output=True, timeout=600, env=env, cwd=tmp_path,
    )  # fmt: skip
    tap = tmp_path / "venv" / "bin" / "tap-datadog-costs"
    about = subprocess.run(
        [str(tap), "--about", "--format=json"],
        check=True,
        capture_output=True,
        env=clock_env(live.now, env),
        cwd=tmp_path,
    )
    assert json.loads(about.stdout)["name"] == "tap-datadog-costs"
    config = tmp_path / "config.json"
    start = (live.now - dt.timedelta(hours=6)).isoformat()
    config.write_text(json.dumps(tap_config(live.url, start_date=start)))
    run = subprocess.run(
        [str(tap), "--config", str(config)],
        capture_output=True,
        env=clock_env(live.now, env),
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    streams = {m["stream"] for m in parse_messages(run.stdout) if m["type"] == "RECORD"}
    assert {"organizations", "hourly_usage", "estimated_costs"} <= streams


def test_make_lock_pins_every_dependency_within_pyprojects_ranges(tmp_path: Path) -> None:
    """README's `make lock`, in a scratch copy: a fresh resolution from the package registry."""
    project = project_copy(tmp_path / "project")
    result = subprocess.run(
        ["make", "lock"],  # noqa: S607
        cwd=project, capture_output=True, text=True, timeout=1200, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    header, *lines = (project / "requirements.lock").read_text().splitlines()
    assert header.startswith("# pip constraints for CI, on Python 3.11")
    pins = dict(line.split("==") for line in lines)
    assert len(pins) == len(lines)  # each line one exact pin, nothing else
    pinned = {canonicalize_name(name): version for name, version in pins.items()}
    project_table = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [
        Requirement(spec)
        for spec in [
            *project_table["dependencies"],
            *(s for extra in project_table["optional-dependencies"].values() for s in extra),
        ]
    ]
    for requirement in wanted:
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue  # not for the Python the lock is for
        name = canonicalize_name(requirement.name)
        assert name in pinned, requirement
        assert requirement.specifier.contains(pinned[name], prereleases=True), (requirement, pins)
    assert not (project / ".lock-venv").exists()  # the scratch venv is removed
