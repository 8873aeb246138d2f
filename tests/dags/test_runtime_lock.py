"""The runtime lock alone runs the DAGs: the production image's packages, proved without Docker.

``docker/Dockerfile`` installs ``requirements.lock`` only (no test or local-stack package), so a
DAG or plugin that imports a package only ``requirements-dev.lock`` brings would break in
production while every other test passes. This test builds a fresh virtualenv from
``requirements.lock`` with uv (``uv pip sync``: exactly the lock, nothing else), then, in it:

- imports every DAG file in ``dags/`` and every module of ``plugins/analytics``;
- imports every third-party module those files name in an ``import`` statement anywhere,
  function bodies included (a lazy ``import plotly`` inside a task is caught too);
- runs ``pip check`` (pip is installed into the virtualenv after the sync for that, as the
  image has it), the check the image build runs.

With uv's cache warm it costs about 30 s of CPU, most of it compiling the fresh bytecode.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RUNTIME_LOCK = REPO / "requirements.lock"
DAG_FILES = sorted((REPO / "dags").glob("*.py"))
PLUGIN_ROOT = REPO / "plugins"
PLUGIN_FILES = sorted((PLUGIN_ROOT / "analytics").rglob("*.py"))

# Run inside the runtime virtualenv, isolated (`python -I`: no PYTHONPATH, no user site, and not
# the current directory), so nothing from the development virtualenv or the repository root leaks
# in. Prints one JSON object: what imported and what failed, with the error.
IMPORT_SCRIPT = r"""
import importlib, importlib.util, json, sys, traceback
plugins, modules, third_party, dag_files = json.loads(sys.argv[1])
sys.path.insert(0, plugins)
result = {"imported": [], "failed": {}}

def attempt(name, load):
    try:
        load()
        result["imported"].append(name)
    except BaseException as error:  # a DAG file may raise anything; report it, do not stop
        result["failed"][name] = "".join(traceback.format_exception_only(error)).strip()

for name in third_party + modules:
    attempt(name, lambda name=name: importlib.import_module(name))
for path in dag_files:
    def load_dag_file(path=path):
        spec = importlib.util.spec_from_file_location("dag_file_" + path.rsplit("/", 1)[-1][:-3], path)
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
    attempt(path, load_dag_file)
print(json.dumps(result))
"""


def module_name(path: Path) -> str:
    parts = path.relative_to(PLUGIN_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def third_party_modules(paths: list[Path]) -> list[str]:
    """Top-level modules the files import, anywhere in them, less the standard library and ours."""
    names: set[str] = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return sorted(names - set(sys.stdlib_module_names) - {"analytics", "__future__"})


def uv_command() -> list[str]:
    """uv as the Makefile finds it: on PATH, else as a module of this interpreter."""
    found = shutil.which("uv")
    if found:
        return [found]
    probe = subprocess.run([sys.executable, "-m", "uv", "--version"], capture_output=True)
    if probe.returncode == 0:
        return [sys.executable, "-m", "uv"]
    pytest.fail("uv is missing: run `make setup`")


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=600, **kwargs)


@pytest.fixture(scope="module")
def runtime_python(tmp_path_factory) -> Path:
    """A fresh virtualenv holding exactly requirements.lock, plus pip for `pip check`."""
    venv = tmp_path_factory.mktemp("runtime-lock") / "venv"
    uv = uv_command()
    python = venv / "bin" / "python"
    for command in (
        [*uv, "venv", "--quiet", "--python", "3.11", str(venv)],
        [*uv, "pip", "sync", "--quiet", "--python", str(python), str(RUNTIME_LOCK)],
        [*uv, "pip", "install", "--quiet", "--python", str(python), "pip"],
    ):
        result = run(command)
        assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stderr}"
    return python


@pytest.fixture(scope="module")
def imports(runtime_python, tmp_path_factory) -> dict:
    home = tmp_path_factory.mktemp("airflow-home")
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
    }
    arguments = [
        str(PLUGIN_ROOT),
        [module_name(path) for path in PLUGIN_FILES],
        third_party_modules([*DAG_FILES, *PLUGIN_FILES]),
        [str(path) for path in DAG_FILES],
    ]
    result = run(
        [str(runtime_python), "-I", "-c", IMPORT_SCRIPT, json.dumps(arguments)], env=environment, cwd=home
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def pins(lock: Path) -> dict[str, str]:
    return dict(
        line.split("==", 1) for line in lock.read_text().splitlines() if "==" in line and line[0].isalnum()
    )


def test_the_development_lock_pins_every_runtime_package_at_the_runtime_version():
    runtime, development = pins(RUNTIME_LOCK), pins(REPO / "requirements-dev.lock")
    assert len(runtime) > 100
    differing = {
        name: (version, development.get(name))
        for name, version in runtime.items()
        if development.get(name) != version
    }
    assert differing == {}, "tests would run on other versions than the image: run `make lock`"


def test_the_runtime_lock_leaves_out_the_development_packages():
    locked = {line.split("==")[0] for line in RUNTIME_LOCK.read_text().splitlines() if "==" in line}
    assert {"apache-airflow", "pandas", "plotly", "pymongo"} <= locked
    assert not locked & {"pytest", "ruff", "moto", "nx-27017", "playwright", "matplotlib", "aiosmtpd"}


def test_every_dag_plugin_and_library_imports_from_the_runtime_lock_alone(imports):
    assert imports["failed"] == {}, "needs a package the runtime lock does not hold"
    expected = {
        *(str(path) for path in DAG_FILES),
        *(module_name(path) for path in PLUGIN_FILES),
        *third_party_modules([*DAG_FILES, *PLUGIN_FILES]),
    }
    assert set(imports["imported"]) == expected
    assert len(DAG_FILES) >= 9 and {"airflow", "pandas", "plotly", "pymongo", "psycopg"} <= expected


def test_pip_check_passes_in_the_runtime_virtualenv(runtime_python):
    result = run([str(runtime_python), "-m", "pip", "check"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No broken requirements found" in result.stdout
