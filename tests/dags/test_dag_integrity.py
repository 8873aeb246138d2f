"""Every DAG imports cleanly and carries what operators and analysts rely on.

The DagBag is loaded once per session with connections from ``AIRFLOW_CONN_*`` (see
tests/conftest.py), so parsing needs no secrets and no metadata database. Each DAG has a
``doc_md`` that says who owns it, tags from :data:`analytics.dag_defaults.TAGS`, an owner and
at least two retries on every task, params with a valid JSON-schema type and a description,
its file parses without a warning and imports in under a second without loading a database driver.

Two more checks read the source with :mod:`ast` and never run it, so they name the offending
line even in a file that would not import:

**No I/O at parse time** (:func:`parse_time_io`, every file in ``dags/``). Airflow runs a DAG
file each time it parses it. The code that runs then, and is checked, is: the module's
statements (except an ``if __name__ == "__main__":`` block), class bodies, the decorators and
default argument values of every ``def`` and ``lambda``, and the bodies of functions decorated
with ``@dag`` or ``@task_group``, of constructors (``__init__``: an operator is built at parse
time) and of any other plain function called by name from code that runs then. Not checked, as
they run in a worker: the bodies of functions decorated with ``@task...``, ``@asset``,
``@setup`` or ``@teardown``, of lambdas, of other methods (an operator's ``execute``) and of
functions only passed around (callbacks). In the checked code every call counts, whether its
value is assigned, passed on or discarded; after resolving the file's import aliases, a call is
I/O when it is (:func:`io_reason`):

- a method of ``Variable`` or ``Connection`` (``Variable.get``: the metadata database or a
  secrets backend);
- anything on a name ending in ``Hook``: a constructor (``PostgresHook(...)``) or a class method
  (``BaseHook.get_connection``);
- a client class (:data:`CLIENT_CLASSES`, e.g. ``MongoClient``) or a call into a module of
  :data:`IO_MODULES` (``requests``, ``psycopg``, ``boto3``, ``subprocess``, ``analytics.stores``...);
- a function of :data:`IO_FUNCTIONS` (``open``, ``os.listdir``, ``os.path.exists``...);
- a method of :data:`FILE_METHODS` or :data:`CLIENT_METHODS` on any object
  (``Path(...).read_text``, ``hook.get_records``);
- a function of our plugins whose name says it loads or reads (``load_engagement_config``).

**No Airflow-2 idioms** (:func:`airflow2_idioms`, every file in ``dags/`` and every module under
``plugins/analytics``). The syntax tree is checked, not the text, so comments and docstrings may
name an idiom (to explain what replaced it) while code may not. Reported are: imports from the
modules in :data:`AIRFLOW2_MODULES` and of the names in :data:`AIRFLOW2_IMPORTS` (``from
airflow.models import DAG``, ``airflow.operators.``, ``airflow.utils.dates``...); the names in
:data:`AIRFLOW2_NAMES` used as a variable, attribute, parameter or keyword argument, or as a
string on its own (``context["execution_date"]``); the arguments in :data:`AIRFLOW2_ARGUMENTS`
given to a DAG, a task or an operator or set in ``default_args``; and, in the Jinja of any string,
the template variables of :data:`EXECUTION_DATE_TEMPLATE_VARIABLES` (removed in Airflow 3, or
shorthands for the logical date, where our runs key on the data interval); the same shorthands
are reported as context keys and as parameters of a ``@task``. They stay fine as filters
(``{{ data_interval_start | ds }}``) and as attributes (``dag_run.conf``).

**Probes.** Each rule is proved on ``tests/dags/probes/``: files that break it on purpose, with
``# expect io: <name>`` or ``# expect idiom: <name>`` on each line the checker must report and
nothing reported elsewhere. They are parsed, never imported: their names do not match pytest's
``python_files``, ``.airflowignore`` hides them from any DagBag, and ruff's ``AIR`` rules are off
for them (``pyproject.toml``).
"""

from __future__ import annotations

import ast
import copy
import re
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

import pytest

from analytics.dag_defaults import TAGS

REPO = Path(__file__).resolve().parents[2]
DAG_FILES = sorted((REPO / "dags").glob("*.py"))
PARSE_BUDGET_SECONDS = 1.0
PROBES = Path(__file__).resolve().parent / "probes"
JSON_SCHEMA_TYPES = frozenset({"string", "number", "integer", "boolean", "object", "array", "null"})


@pytest.fixture(scope="session")
def dag_bag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags"))


def _dags(dag_bag):
    return sorted(dag_bag.dags.values(), key=lambda dag: dag.dag_id)


# ---------------------------------------------------------------------------------------------
# Source checks (see the module docstring for the rules)


@dataclass(frozen=True, order=True)
class Finding:
    path: Path
    line: int
    name: str
    reason: str

    def __str__(self) -> str:
        path = self.path.relative_to(REPO) if self.path.is_relative_to(REPO) else self.path
        return f"{path}:{self.line}: {self.name}: {self.reason}"


def _written(node: ast.AST) -> str:
    """An expression as a dotted name, as written: ``Variable.get``, ``Path(...).read_text``."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_written(node.value)}.{node.attr}"
    if isinstance(node, ast.Call):
        return f"{_written(node.func)}(...)"
    if isinstance(node, ast.Subscript):
        return f"{_written(node.value)}[...]"
    return "(...)"


def _import_aliases(tree: ast.AST) -> dict[str, str]:
    """Local name -> dotted name it was imported as (``MongoClient`` -> ``pymongo.MongoClient``)."""
    aliases = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            aliases.update({alias.asname: alias.name for alias in node.names if alias.asname})
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            aliases.update(
                {alias.asname or alias.name: f"{node.module}.{alias.name}" for alias in node.names}
            )
    return aliases


def _qualified(written: str, aliases: dict[str, str]) -> str:
    head, dot, rest = written.partition(".")
    name, bracket, tail = head.partition("(")
    return aliases.get(name, name) + bracket + tail + dot + rest


AIRFLOW_LOOKUPS = frozenset({"Variable", "Connection"})
CLIENT_CLASSES = frozenset({"MongoClient", "AsyncMongoClient", "AsyncIOMotorClient"})
IO_MODULES = (
    "aiohttp",
    "analytics.stores",
    "boto3",
    "botocore",
    "ftplib",
    "fsspec",
    "glob",
    "http.client",
    "httpx",
    "motor",
    "paramiko",
    "psycopg",
    "psycopg2",
    "pymongo",
    "redis",
    "requests",
    "s3fs",
    "shutil",
    "smtplib",
    "socket",
    "sqlalchemy",
    "sqlite3",
    "subprocess",
    "tempfile",
    "urllib.request",
    "urllib3",
)
IO_FUNCTIONS = frozenset(
    {
        "open",
        "input",
        "builtins.open",
        "io.open",
        "os.listdir",
        "os.scandir",
        "os.walk",
        "os.open",
        "os.stat",
        "os.remove",
        "os.unlink",
        "os.mkdir",
        "os.makedirs",
        "os.system",
        "os.popen",
        "os.path.exists",
        "os.path.isfile",
        "os.path.isdir",
        "os.path.getsize",
        "os.path.getmtime",
    }
)
FILE_METHODS = frozenset(
    {
        "read_text",
        "read_bytes",
        "write_text",
        "write_bytes",
        "open",
        "iterdir",
        "glob",
        "rglob",
        "exists",
        "is_file",
        "is_dir",
        "stat",
        "mkdir",
        "touch",
        "unlink",
    }
)
CLIENT_METHODS = frozenset(
    {
        "get_conn",
        "get_connection",
        "get_hook",
        "get_records",
        "get_first",
        "get_pandas_df",
        "get_df",
        "download_file",
        "upload_file",
        "read_key",
        "list_keys",
        "load_file",
        "load_string",
    }
)
OUR_LOADER = re.compile(r"(load|read|fetch|download|connect)(_\w+)?")


def io_reason(qualified: str) -> str | None:
    """Why a call to ``qualified`` (a callee after alias resolution) is I/O; None when it is not."""
    receiver, chained, tail = qualified.rpartition("(...).")
    plain = re.sub(r"\[\.\.\.\]", "", tail)
    segments = plain.split(".")
    method = segments[-1]
    has_receiver = bool(chained) or len(segments) > 1
    if not chained:
        if method != segments[0] and AIRFLOW_LOOKUPS & set(segments[:-1]):
            return "reads the metadata database or a secrets backend"
        if any(segment.endswith("Hook") for segment in segments):
            return "builds a hook or fetches its connection"
        if method in CLIENT_CLASSES:
            return "builds a database client"
        if plain in IO_FUNCTIONS:
            return "touches the file system or starts a process"
        for module in IO_MODULES:
            if plain.startswith(module + "."):
                return f"calls {module}"
        if plain.startswith("analytics.") and OUR_LOADER.fullmatch(method):
            return "loads data or configuration"
    if has_receiver and method in FILE_METHODS:
        return "reads or writes files"
    if has_receiver and method in CLIENT_METHODS:
        return "talks to a store"
    return None


FUNCTION_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
RUNTIME_DECORATORS = frozenset({"task", "asset", "setup", "teardown"})
PARSE_TIME_DECORATORS = frozenset({"dag", "task_group"})
CONSTRUCTORS = frozenset({"__init__", "__new__", "__post_init__", "__init_subclass__", "__set_name__"})


def _decorator_names(function: ast.AST, aliases: dict[str, str]) -> set[str]:
    names = set()
    for decorator in function.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        names.update(_qualified(_written(target), aliases).split("."))
    return names


def _definition_time_parts(function: ast.AST) -> list[ast.AST]:
    """What Python evaluates when it meets a ``def`` or ``lambda``: decorators, default values."""
    arguments = function.args
    return [
        *getattr(function, "decorator_list", []),
        *arguments.defaults,
        *(default for default in arguments.kw_defaults if default is not None),
    ]


def _is_main_guard(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.If)
        and isinstance(node.test, ast.Compare)
        and isinstance(node.test.left, ast.Name)
        and node.test.left.id == "__name__"
        and len(node.test.comparators) == 1
        and isinstance(node.test.comparators[0], ast.Constant)
        and node.test.comparators[0].value == "__main__"
    )


def _plain_functions(nodes, aliases: dict[str, str], found: dict) -> dict[str, list[ast.AST]]:
    """Functions (not methods) that run where they are called: not decorated as tasks."""
    for node in nodes:
        if isinstance(node, FUNCTION_DEFINITIONS) and not (
            _decorator_names(node, aliases) & RUNTIME_DECORATORS
        ):
            found[node.name].append(node)
        if isinstance(node, ast.ClassDef):
            not_methods = [child for child in node.body if not isinstance(child, FUNCTION_DEFINITIONS)]
            _plain_functions(not_methods, aliases, found)
        else:
            _plain_functions(ast.iter_child_nodes(node), aliases, found)
    return found


def parse_time_nodes(tree: ast.Module, aliases: dict[str, str]) -> Iterator[ast.AST]:
    """Every node of the code Airflow runs when it parses the file (rule: the module docstring)."""
    plain_functions = _plain_functions(tree.body, aliases, defaultdict(list))
    entered: set[int] = set()
    pending: list[ast.AST] = list(reversed(tree.body))

    def enter(function: ast.AST) -> None:
        if id(function) not in entered:
            entered.add(id(function))
            pending.extend(reversed(function.body))

    while pending:
        node = pending.pop()
        if _is_main_guard(node):
            pending.extend(reversed(node.orelse))
        elif isinstance(node, ast.Lambda):
            pending.extend(_definition_time_parts(node))
        elif isinstance(node, FUNCTION_DEFINITIONS):
            pending.extend(_definition_time_parts(node))
            decorators = _decorator_names(node, aliases)
            if decorators & PARSE_TIME_DECORATORS and not decorators & RUNTIME_DECORATORS:
                enter(node)
        elif isinstance(node, ast.ClassDef):
            pending.extend([*node.decorator_list, *node.bases, *(keyword.value for keyword in node.keywords)])
            for statement in node.body:
                if isinstance(statement, FUNCTION_DEFINITIONS):
                    pending.extend(_definition_time_parts(statement))
                    if statement.name in CONSTRUCTORS:
                        enter(statement)
                else:
                    pending.append(statement)
        else:
            yield node
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                for function in plain_functions.get(node.func.id, ()):
                    enter(function)
            pending.extend(reversed(list(ast.iter_child_nodes(node))))


def parse_time_io(path: Path) -> list[Finding]:
    """The calls that do I/O when Airflow parses the DAG file at ``path``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    aliases = _import_aliases(tree)
    findings = set()
    for node in parse_time_nodes(tree, aliases):
        if isinstance(node, ast.Call):
            written = _written(node.func)
            reason = io_reason(_qualified(written, aliases))
            if reason:
                findings.add(Finding(path, node.lineno, written, f"{reason} at parse time"))
    return sorted(findings)


AIRFLOW2_MODULES = {
    "airflow.contrib": "a provider package",
    "airflow.operators": "airflow.providers.standard.operators or airflow.sdk",
    "airflow.sensors": "airflow.providers.standard.sensors or airflow.sdk",
    "airflow.hooks": "airflow.sdk.BaseHook or a provider's hook",
    "airflow.triggers": "airflow.providers.standard.triggers",
    "airflow.decorators": "airflow.sdk",
    "airflow.datasets": "airflow.sdk (Asset)",
    "airflow.models": "airflow.sdk (task code has no metadata database in Airflow 3)",
    "airflow.settings": "airflow.sdk (task code has no metadata database in Airflow 3)",
    "airflow.utils.session": "airflow.sdk (task code has no metadata database in Airflow 3)",
    "airflow.utils.db": "airflow.sdk (task code has no metadata database in Airflow 3)",
    "airflow.utils.dates": "pendulum and the run's data interval",
    "airflow.utils.decorators": "nothing (apply_defaults is gone)",
    "airflow.utils.helpers": "airflow.sdk (chain, cross_downstream)",
    "airflow.utils.task_group": "airflow.sdk.TaskGroup",
    "airflow.utils.trigger_rule": "airflow.sdk.TriggerRule",
    "airflow.utils.edgemodifier": "airflow.sdk.Label",
    "airflow.utils.timezone": "airflow.sdk.timezone or pendulum",
    "airflow.utils.context": "airflow.sdk.Context",
    "airflow.utils.state": "airflow.sdk (TaskInstanceState, DagRunState)",
    "airflow.utils.weight_rule": "airflow.sdk.WeightRule",
    "airflow.utils.xcom": "airflow.sdk",
    "airflow.macros": "the macros of the template context",
    "airflow.io": "airflow.sdk.ObjectStoragePath",
    "airflow.lineage": "airflow.sdk.lineage",
    "airflow.notifications": "airflow.sdk.BaseNotifier",
    "airflow.timetables": "airflow.sdk (CronDataIntervalTimetable, ...)",
    "airflow.configuration": "airflow.sdk.conf",
}
# Exceptions airflow.exceptions only re-exports from airflow.sdk.exceptions, with a warning.
_MOVED_EXCEPTIONS = (
    "AirflowDagCycleException",
    "AirflowFailException",
    "AirflowInactiveAssetInInletOrOutletException",
    "AirflowSensorTimeout",
    "AirflowSkipException",
    "AirflowTaskTerminated",
    "AirflowTaskTimeout",
    "DagRunTriggerException",
    "DownstreamTasksSkipped",
    "DuplicateTaskIdFound",
    "FailFastDagInvalidTriggerRule",
    "ParamValidationError",
    "TaskAlreadyInTaskGroup",
    "TaskDeferralError",
    "TaskDeferralTimeout",
    "TaskDeferred",
    "XComNotFound",
)
AIRFLOW2_IMPORTS = {
    "airflow.DAG": "airflow.sdk.DAG",
    "airflow.Dataset": "airflow.sdk.Asset",
    "airflow.AirflowException": "airflow.sdk.exceptions.AirflowException",
    **{f"airflow.exceptions.{name}": f"airflow.sdk.exceptions.{name}" for name in _MOVED_EXCEPTIONS},
}
_DATA_INTERVAL = "the run's data interval (data_interval_start, data_interval_end)"
AIRFLOW2_NAMES = {
    "schedule_interval": "schedule",
    "execution_date": "logical_date, or better " + _DATA_INTERVAL,
    "next_execution_date": _DATA_INTERVAL,
    "prev_execution_date": _DATA_INTERVAL,
    "prev_execution_date_success": "prev_data_interval_start_success",
    "next_ds": _DATA_INTERVAL,
    "next_ds_nodash": _DATA_INTERVAL,
    "prev_ds": _DATA_INTERVAL,
    "prev_ds_nodash": _DATA_INTERVAL,
    "tomorrow_ds": _DATA_INTERVAL,
    "tomorrow_ds_nodash": _DATA_INTERVAL,
    "yesterday_ds": _DATA_INTERVAL,
    "yesterday_ds_nodash": _DATA_INTERVAL,
    "provide_context": "nothing (the context always goes to the callable's named arguments)",
    "days_ago": "pendulum.datetime(...)",
    "apply_defaults": "nothing (BaseOperator applies default_args itself)",
    "external_trigger": "dag_run.run_type",
    "Dataset": "airflow.sdk.Asset",
    "DatasetAlias": "airflow.sdk.AssetAlias",
    "DatasetAll": "airflow.sdk.AssetAll",
    "DatasetAny": "airflow.sdk.AssetAny",
    "triggering_dataset_events": "triggering_asset_events",
    "sla_miss_callback": "deadline alerts (SLAs are gone)",
    "task_concurrency": "max_active_tis_per_dag",
    "use_task_execution_day": "use_task_logical_date",
}
AIRFLOW2_ARGUMENTS = {
    "sla": "deadline alerts (SLAs are gone)",
    "timetable": "schedule",
    "concurrency": "max_active_tasks",
    "fail_stop": "fail_fast",
    "default_view": "nothing (removed)",
    "orientation": "nothing (removed)",
    "full_filepath": "nothing (removed)",
}
LOGICAL_DATE_SHORTHANDS = frozenset({"ds", "ds_nodash", "ts", "ts_nodash", "ts_nodash_with_tz"})
EXECUTION_DATE_TEMPLATE_VARIABLES = frozenset(
    {name for name in AIRFLOW2_NAMES if "_ds" in name or "execution_date" in name}
    | {"conf"}
    | LOGICAL_DATE_SHORTHANDS
)
JINJA = re.compile(r"{{(.*?)}}|{%(.*?)%}", re.DOTALL)
JINJA_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
JINJA_WORD = re.compile(r"(?<![\w.])[A-Za-z_]\w*")


def idiom_checked_files(root: Path = REPO) -> list[Path]:
    """The files the Airflow-2 idiom check reads: ``dags/*.py`` and ``plugins/analytics/**/*.py``."""
    return sorted((root / "dags").glob("*.py")) + sorted((root / "plugins" / "analytics").rglob("*.py"))


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, *FUNCTION_DEFINITIONS)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def _template_variables(text: str) -> Iterator[str]:
    """The variables a string's Jinja reads: not attributes (``a.b``), filters (``| ds``),
    keyword names (``key=``) or words inside quotes."""
    for match in JINJA.finditer(text):
        expression = JINJA_QUOTED.sub("''", match.group(1) or match.group(2) or "")
        for word in JINJA_WORD.finditer(expression):
            before = expression[: word.start()].rstrip()[-1:]
            after = expression[word.end() :].lstrip()
            if before not in (".", "|") and not (after.startswith("=") and not after.startswith("==")):
                yield word.group()


def _is_dag_or_task_call(node: ast.Call) -> bool:
    callee = _written(node.func).rsplit(".", 1)[-1]
    return callee in {"DAG", "dag", "task", "partial"} or callee.endswith(("Operator", "Sensor"))


def _default_args_dicts(tree: ast.AST) -> Iterator[ast.Dict]:
    """Dict literals that are task defaults: a ``default_args=`` value, ``default_args`` names or functions."""
    for node in ast.walk(tree):
        regions = []
        if isinstance(node, ast.keyword) and node.arg == "default_args":
            regions.append(node.value)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any("default_args" in _written(target).lower() for target in targets) and node.value:
                regions.append(node.value)
        elif isinstance(node, FUNCTION_DEFINITIONS) and "default_args" in node.name.lower():
            regions.extend(node.body)
        for region in regions:
            yield from (child for child in ast.walk(region) if isinstance(child, ast.Dict))


def airflow2_idioms(path: Path) -> list[Finding]:
    """The Airflow 2 idioms in the code (not the comments or docstrings) of ``path``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    docstrings = _docstrings(tree)
    findings: set[Finding] = set()

    def report(node: ast.AST, name: str, replacement: str) -> None:
        findings.add(Finding(path, node.lineno, name, f"Airflow 2 idiom; Airflow 3 uses {replacement}"))

    def check_import(node: ast.AST, name: str) -> None:
        if name in AIRFLOW2_IMPORTS:
            report(node, name, AIRFLOW2_IMPORTS[name])
        for module, replacement in AIRFLOW2_MODULES.items():
            if name == module or name.startswith(module + "."):
                report(node, name, replacement)

    def check_name(node: ast.AST, name: str | None) -> None:
        if name in AIRFLOW2_NAMES:
            report(node, name, AIRFLOW2_NAMES[name])

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                check_import(alias, alias.name)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                check_import(alias, f"{node.module}.{alias.name}")
        elif isinstance(node, ast.Name):
            check_name(node, node.id)
        elif isinstance(node, ast.Attribute):
            check_name(node, node.attr)
        elif isinstance(node, ast.arg):
            check_name(node, node.arg)
        elif isinstance(node, ast.Call):
            for keyword in node.keywords:
                check_name(keyword.value, keyword.arg)
                if keyword.arg in AIRFLOW2_ARGUMENTS and _is_dag_or_task_call(node):
                    report(keyword.value, keyword.arg, AIRFLOW2_ARGUMENTS[keyword.arg])
            if (
                isinstance(node.func, ast.Attribute)
                and node.func.attr == "get"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and node.args[0].value in LOGICAL_DATE_SHORTHANDS
            ):
                report(node, node.args[0].value, _DATA_INTERVAL)
        elif isinstance(node, ast.Subscript):
            key = node.slice
            if isinstance(key, ast.Constant) and key.value in LOGICAL_DATE_SHORTHANDS:
                report(node, key.value, _DATA_INTERVAL)
        elif isinstance(node, FUNCTION_DEFINITIONS) and _decorator_names(node, {}) & RUNTIME_DECORATORS:
            arguments = node.args
            for argument in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]:
                if argument.arg in LOGICAL_DATE_SHORTHANDS:
                    report(argument, argument.arg, _DATA_INTERVAL)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            check_name(node, node.value)
            for name in _template_variables(node.value):
                if name in EXECUTION_DATE_TEMPLATE_VARIABLES:
                    report(node, name, _DATA_INTERVAL + " in templates")
    for dictionary in _default_args_dicts(tree):
        for key in dictionary.keys:
            if isinstance(key, ast.Constant) and key.value in AIRFLOW2_ARGUMENTS:
                report(key, key.value, AIRFLOW2_ARGUMENTS[key.value])
    return sorted(findings)


def _report(findings: list[Finding]) -> str:
    return "\n".join(str(finding) for finding in findings)


# ---------------------------------------------------------------------------------------------
# The DAGs


def test_dag_files_exist():
    assert DAG_FILES, "no DAG files found in dags/"


def test_no_import_errors(dag_bag):
    assert dag_bag.import_errors == {}, "\n".join(
        f"{path}: {error}" for path, error in dag_bag.import_errors.items()
    )


def test_dag_files_parse_without_warnings(dag_bag):
    """Airflow records the warnings each DAG file raises while it parses; there are none."""
    assert dag_bag.captured_warnings == {}, "\n".join(
        f"{path}: {warning}" for path, warnings in dag_bag.captured_warnings.items() for warning in warnings
    )


def test_one_dag_per_file_named_after_its_dag_id(dag_bag):
    assert sorted(dag.dag_id for dag in dag_bag.dags.values()) == sorted(path.stem for path in DAG_FILES)


def test_every_dag_has_docs(dag_bag):
    for dag in _dags(dag_bag):
        assert dag.doc_md and len(dag.doc_md.strip()) > 100, f"{dag.dag_id}: doc_md missing or too short"
        assert "owner" in dag.doc_md.lower(), f"{dag.dag_id}: doc_md should say who owns it"


def test_every_dag_has_owner_and_retries(dag_bag):
    for dag in _dags(dag_bag):
        assert dag.default_args.get("owner") not in (None, "", "airflow"), f"{dag.dag_id}: owner not set"
        for task in dag.tasks:
            assert task.owner not in (None, "", "airflow"), f"{dag.dag_id}.{task.task_id}: owner not set"
            assert task.retries >= 2, f"{dag.dag_id}.{task.task_id}: retries={task.retries}, expected >= 2"


def test_tags_come_from_the_vocabulary(dag_bag):
    for dag in _dags(dag_bag):
        assert dag.tags, f"{dag.dag_id}: no tags"
        unknown = set(dag.tags) - TAGS
        assert not unknown, f"{dag.dag_id}: tags {sorted(unknown)} are not in analytics.dag_defaults.TAGS"


def test_every_param_has_a_type_a_title_and_a_description(dag_bag):
    """Each param has a JSON-schema type, a title and a description (the trigger form shows both), a valid schema, and a default that fits it."""
    from airflow.sdk.exceptions import ParamValidationError
    from jsonschema.validators import validator_for

    for dag in _dags(dag_bag):
        for name in dag.params:
            param = dag.params.get_param(name)
            types = param.schema.get("type")
            assert types, f"{dag.dag_id}: param {name!r} has no type"
            types = [types] if isinstance(types, str) else list(types)
            assert set(types) <= JSON_SCHEMA_TYPES, f"{dag.dag_id}: param {name!r} has type {types}"
            assert param.description, f"{dag.dag_id}: param {name!r} has no description"
            assert param.schema.get("title"), f"{dag.dag_id}: param {name!r} has no title"
            validator_for(param.schema).check_schema(param.schema)
            if param.has_value:
                try:
                    copy.copy(param).resolve()
                except ParamValidationError as error:
                    pytest.fail(
                        f"{dag.dag_id}: param {name!r} default {param.value!r} fails its schema: {error}"
                    )
            # The trigger form takes a non-null string type with an empty default as required.
            assert not (types == ["string"] and param.value == ""), (
                f"{dag.dag_id}: param {name!r} is an empty string that the trigger form would require;"
                " use analytics.dag_defaults.optional_text"
            )


@pytest.mark.parametrize("path", idiom_checked_files(), ids=lambda path: str(path.relative_to(REPO)))
def test_no_airflow2_idioms(path):
    """DAG files and every plugins/analytics module use Airflow 3's names (rule: module docstring)."""
    findings = airflow2_idioms(path)
    assert not findings, "Airflow 2 idioms:\n" + _report(findings)


@pytest.mark.parametrize("path", DAG_FILES, ids=[path.name for path in DAG_FILES])
def test_dag_files_do_no_io_at_parse_time(path):
    """No call at parse time reads a Variable, a file, or builds a client (rule: module docstring)."""
    findings = parse_time_io(path)
    assert not findings, (
        "I/O at parse time (move it into a @task or an operator's execute, or use a template):\n"
        + _report(findings)
    )


def test_dag_files_call_only_the_dag_function_at_top_level():
    """Top-level statements of a DAG file are imports, constants, the DAG definition and its call."""
    for path in DAG_FILES:
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
                callee = node.value.func
                assert isinstance(callee, ast.Name) and callee.id == path.stem, (
                    f"{path.name}:{node.lineno}: top-level call other than the DAG function"
                )


HEAVY_MODULES = ("psycopg", "pymongo", "bson", "boto3", "pandas")


@pytest.mark.parametrize("path", DAG_FILES, ids=[path.name for path in DAG_FILES])
def test_dag_file_imports_no_database_or_data_library(path):
    """Drivers and data libraries are imported inside the code that runs tasks, never at parse time."""
    code = (
        "import runpy, sys; "
        f"sys.path[:0] = [{str(REPO / 'plugins')!r}]; "
        f"runpy.run_path({str(path)!r}); "
        f"print(sorted(name for name in {HEAVY_MODULES!r} if name in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]", (
        f"{path.name} imports {result.stdout.strip()} at parse time"
    )


@pytest.mark.parametrize("path", DAG_FILES, ids=[path.name for path in DAG_FILES])
def test_dag_file_imports_quickly(path):
    """Each DAG file imports in under a second (Airflow re-parses them often).

    The interpreter first imports what Airflow's DAG file processor has loaded before it parses a
    file (``airflow.dag_processing.processor``: the SDK, the ORM models, SQLAlchemy), and that is
    not counted: the budget is for the file's own work. Measured from ``airflow.sdk`` alone, the
    provider's ``TriggerDagRunOperator`` would count the second it takes to import SQLAlchemy and
    the models, which a real parse never pays.
    """
    code = (
        "import time, runpy, sys; import airflow.dag_processing.processor; "
        f"sys.path[:0] = [{str(REPO / 'plugins')!r}]; "
        f"start = time.perf_counter(); runpy.run_path({str(path)!r}); "
        "print(time.perf_counter() - start)"
    )
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    seconds = float(result.stdout.strip().splitlines()[-1])
    print(
        f"{path.name}: imports in {seconds * 1000:.0f} ms (whole interpreter {time.perf_counter() - started:.1f} s)"
    )
    assert seconds < PARSE_BUDGET_SECONDS, f"{path.name} took {seconds:.2f}s to import"


# ---------------------------------------------------------------------------------------------
# The checks themselves, proved on the probes


PROBE_FILES = sorted(PROBES.rglob("*.py"))
EXPECT = re.compile(r"#\s*expect (io|idiom):\s*(.+?)\s*$")


def _expected(path: Path, check: str) -> list[tuple[int, str]]:
    """The ``# expect <check>: name, name`` markers of a probe, as (line, name)."""
    expected = set()
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        marker = EXPECT.search(line)
        if marker and marker.group(1) == check:
            expected.update((number, name.strip()) for name in marker.group(2).split(","))
    return sorted(expected)


def _probe_id(path: Path) -> str:
    return str(path.relative_to(PROBES))


def test_every_check_has_probes():
    io_probes = [path for path in (PROBES / "dags").glob("probe_*.py") if _expected(path, "io")]
    idiom_probes = [path for path in idiom_checked_files(PROBES) if _expected(path, "idiom")]
    plugin_probes = [path for path in idiom_probes if (PROBES / "plugins" / "analytics") in path.parents]
    assert len(io_probes) >= 3 and len(idiom_probes) >= 3 and plugin_probes, (io_probes, idiom_probes)
    for path in PROBE_FILES:
        assert _expected(path, "io") or _expected(path, "idiom"), f"{_probe_id(path)} expects nothing"


@pytest.mark.parametrize("path", sorted((PROBES / "dags").glob("probe_*.py")), ids=_probe_id)
def test_parse_time_io_check_reports_exactly_the_probe_lines(path):
    """Each marked line is reported under its name; nothing else, tasks and execute included."""
    found = [(finding.line, finding.name) for finding in parse_time_io(path)]
    assert found == _expected(path, "io"), _report(parse_time_io(path))


@pytest.mark.parametrize("path", idiom_checked_files(PROBES), ids=_probe_id)
def test_airflow2_idiom_check_reports_exactly_the_probe_lines(path):
    """Each marked line is reported under its name; nothing else, docstrings and comments included."""
    found = [(finding.line, finding.name) for finding in airflow2_idioms(path)]
    assert found == _expected(path, "idiom"), _report(airflow2_idioms(path))


def test_idiom_check_reads_every_plugin_module():
    plugin_modules = sorted((REPO / "plugins" / "analytics").rglob("*.py"))
    assert plugin_modules and set(plugin_modules) <= set(idiom_checked_files())
    assert set(DAG_FILES) <= set(idiom_checked_files())
    nested_probe = PROBES / "plugins" / "analytics" / "operators" / "probe_legacy_operator.py"
    assert nested_probe in idiom_checked_files(PROBES)


def test_probes_are_not_pytest_files(pytestconfig):
    patterns = pytestconfig.getini("python_files")
    assert PROBE_FILES
    for path in PROBE_FILES:
        assert path.name.startswith("probe_"), f"{_probe_id(path)}: probe files are named probe_*.py"
        assert not any(fnmatch(path.name, pattern) for pattern in patterns), f"pytest would collect {path}"


def test_probes_are_never_parsed_by_airflow():
    """The probes' .airflowignore hides them from a DagBag on the probes or on any folder above."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils.file import list_py_file_paths

    for folder in (PROBES, PROBES.parent, REPO / "tests"):
        listed = [Path(path) for path in list_py_file_paths(folder, safe_mode=False)]
        assert not [path for path in listed if PROBES in path.parents], f"listed from {folder}"
    bag = DagBag(dag_folder=str(PROBES), safe_mode=False)
    assert bag.dags == {} and bag.import_errors == {}
