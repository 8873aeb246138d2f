"""Static checks of docker-compose.yaml, docker/Dockerfile and .env.example.

Docker may not run where the tests do, so the compose file is validated as data: it parses with
its anchors and merge keys, images are pinned, dependencies exist, the Airflow services run the
CeleryExecutor with a connection for every id the project uses, and no secret is written in it.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from analytics.connections import ALL_CONNECTION_IDS

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yaml"
DOCKERFILE = REPO / "docker" / "Dockerfile"
ENV_EXAMPLE = REPO / ".env.example"
LOCK_FILE = REPO / "requirements.lock"
CONNECTIONS_MODULE = REPO / "plugins" / "analytics" / "connections.py"

REQUIRED_SERVICES = (
    "postgres",
    "redis",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-worker",
    "airflow-triggerer",
    "airflow-init",
    "mongo",
    "mongo-express",
    "minio",
    "minio-init",
    "warehouse",
)
REQUIRED_BUCKETS = ("edx-tracking-logs", "analytics-exports")
WAREHOUSE_DATABASES = ("prod", "analytics", "app")

CONN_ID_ARGUMENT = re.compile(r"conn_id\s*=\s*[\"']([a-z0-9_]+)[\"']")
# `${NAME}`, `${NAME:-default}`, `${NAME?message}`...; `$${NAME}` is an escaped, literal `$`.
COMPOSE_VARIABLE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)")
# A secret must come from the environment with no default: `${NAME}` or `${NAME:?message}`.
SECRET_REFERENCE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*(:?\?[^}]*)?\}")
SECRET_KEY = re.compile(r"PASSWORD|SECRET|FERNET_KEY|TOKEN|ACCESS_KEY", re.IGNORECASE)
ANY_REFERENCE = re.compile(r"(?<!\$)\$\{[^}]*\}")
# Searched in text whose `${...}` references are masked (see passwords_in).
URI_USERINFO = re.compile(r"[a-z][a-z0-9+.-]*://([^\s/@\"']*)@", re.IGNORECASE)
JSON_PASSWORD = re.compile(r"\"password\"\s*:\s*\"([^\"]*)\"")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


@pytest.fixture(scope="module")
def common_environment(compose) -> dict:
    return environment_of(compose["x-airflow-common"])


def environment_of(service: dict) -> dict:
    """A service's environment as a mapping, whether it is written as a mapping or a list."""
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        return dict(entry.split("=", 1) if "=" in entry else (entry, None) for entry in environment)
    return environment


def depends_on_of(service: dict) -> dict:
    """A service's dependencies as {name: condition}, from the list or the mapping form."""
    depends_on = service.get("depends_on") or {}
    if isinstance(depends_on, list):
        return dict.fromkeys(depends_on, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in depends_on.items()}


def airflow_services(services: dict) -> dict:
    return {name: service for name, service in services.items() if name.startswith("airflow-")}


def strings_in(node):
    """Every string value in a parsed YAML document, at any depth."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings_in(value)


def connection_ids_in_source() -> set[str]:
    """Connection ids written literally in DAGs and plugins, or as constants in connections.py."""
    sources = [*(REPO / "dags").glob("*.py"), *(REPO / "plugins" / "analytics").rglob("*.py")]
    found = {match for path in sources for match in CONN_ID_ARGUMENT.findall(path.read_text())}
    module = ast.parse(CONNECTIONS_MODULE.read_text())
    for statement in module.body:
        if isinstance(statement, ast.Assign | ast.AnnAssign) and isinstance(statement.value, ast.Constant):
            if isinstance(statement.value.value, str):
                found.add(statement.value.value)
    return found


def dockerfile_instructions() -> list[str]:
    """Dockerfile instructions with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = (line.strip() for line in joined.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def is_pinned(image: str) -> bool:
    if "${" in image:
        return False
    if "@sha256:" in image:
        return True
    name_and_tag = image.rsplit("/", 1)[-1]
    _, _, tag = name_and_tag.partition(":")
    return bool(tag) and tag != "latest"


def test_compose_file_parses_with_anchors_resolved(compose, services):
    assert isinstance(services, dict) and services
    # The merge keys resolved: an Airflow service got the common block's settings.
    scheduler = services["airflow-scheduler"]
    assert scheduler["build"] == {"context": ".", "dockerfile": "docker/Dockerfile"}
    assert "AIRFLOW__CORE__EXECUTOR" in environment_of(scheduler)
    assert not any("<<" in service for service in services.values())


@pytest.mark.parametrize("name", REQUIRED_SERVICES)
def test_required_service_is_defined(services, name):
    assert name in services, f"service {name!r} missing from docker-compose.yaml"


def test_mongo_express_is_in_the_bi_profile(services):
    assert "bi" in services["mongo-express"].get("profiles", [])


def test_mongo_express_browses_the_stack_mongodb_behind_a_login(services):
    """`docker compose --profile bi up` lets a user browse the BI collections, as the original did."""
    express = services["mongo-express"]
    environment = environment_of(express)
    url = urlsplit(ANY_REFERENCE.sub("ref", environment["ME_CONFIG_MONGODB_URL"]))
    assert (url.hostname, url.port) == ("mongo", 27017) and "authSource=admin" in url.query
    assert depends_on_of(express) == {"mongo": "service_healthy"}
    assert environment["ME_CONFIG_BASICAUTH"] == "true"
    assert SECRET_REFERENCE.fullmatch(environment["ME_CONFIG_BASICAUTH_PASSWORD"])
    assert all(port.startswith("127.0.0.1:") for port in express["ports"]), "published on localhost only"


def test_every_image_is_pinned_or_built(services):
    for name, service in services.items():
        if "build" in service:
            continue
        image = service.get("image")
        assert image, f"{name}: neither image nor build"
        assert is_pinned(image), f"{name}: image {image!r} is not pinned to a version tag"


def test_dependencies_are_defined_and_their_conditions_can_be_met(services):
    for name, service in services.items():
        for target, condition in depends_on_of(service).items():
            assert target in services, f"{name} depends on undefined service {target!r}"
            if condition == "service_healthy":
                assert "healthcheck" in services[target], (
                    f"{name} waits for {target} to be healthy: no healthcheck"
                )
            if not service.get("profiles"):
                assert not services[target].get("profiles"), (
                    f"{name} (always on) depends on profiled {target}"
                )


def test_named_volumes_are_declared(compose, services):
    declared = set(compose.get("volumes") or {})
    for name, service in services.items():
        for mount in service.get("volumes", []):
            source = mount.split(":", 1)[0]
            if not source.startswith((".", "/", "~")):
                assert source in declared, f"{name}: named volume {source!r} not declared under volumes:"


def test_no_service_uses_the_host_network(services):
    for name, service in services.items():
        assert service.get("network_mode") != "host", f"{name}: network_mode host"


def test_airflow_runs_the_celery_executor(common_environment, services):
    assert common_environment["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert common_environment["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://")
    assert common_environment["AIRFLOW__CORE__LOAD_EXAMPLES"] == "false"
    assert services["airflow-worker"]["command"] == "celery worker"
    assert services["airflow-apiserver"]["command"] == "api-server"


@pytest.mark.parametrize("conn_id", sorted(set(ALL_CONNECTION_IDS) | connection_ids_in_source()))
def test_connection_is_defined_for_every_airflow_service(common_environment, services, conn_id):
    variable = f"AIRFLOW_CONN_{conn_id.upper()}"
    assert variable in common_environment, f"{variable} missing from x-airflow-common's environment"
    for name, service in airflow_services(services).items():
        assert variable in environment_of(service), f"{name}: {variable} lost by an environment override"


def test_connections_point_at_the_stack_services(common_environment):
    for conn_id in ALL_CONNECTION_IDS:
        value = common_environment[f"AIRFLOW_CONN_{conn_id.upper()}"]
        if value.lstrip().startswith("{"):
            extra = json.loads(value)["extra"]
            assert extra["endpoint_url"] == "http://minio:9000", conn_id
        else:
            host = urlsplit(ANY_REFERENCE.sub("ref", value)).hostname
            assert host in ("warehouse", "mongo"), f"{conn_id}: unexpected host {host!r}"
            if value.startswith("mongo://"):
                assert "authSource=admin" in value
    for database in WAREHOUSE_DATABASES:
        assert common_environment[f"AIRFLOW_CONN_POSTGRES_{database.upper()}"].endswith(f"/{database}")


def passwords_in(text: str) -> list[str]:
    """Passwords written in connection URIs and JSON connections, with references put back."""
    references = ANY_REFERENCE.findall(text)
    masked = text
    for number, reference in enumerate(references):
        masked = masked.replace(reference, f"REF{number}REF", 1)
    passwords = [userinfo.partition(":")[2] for userinfo in URI_USERINFO.findall(masked) if ":" in userinfo]
    passwords += JSON_PASSWORD.findall(masked)
    return [re.sub(r"REF(\d+)REF", lambda match: references[int(match.group(1))], p) for p in passwords]


def test_secrets_come_from_the_environment_without_defaults(compose):
    for name, service in {"x-airflow-common": compose["x-airflow-common"], **compose["services"]}.items():
        for key, value in environment_of(service).items():
            if SECRET_KEY.search(key):
                assert SECRET_REFERENCE.fullmatch(str(value)), (
                    f"{name}: {key} must be ${{VAR}} or ${{VAR:?...}}"
                )
    checked = 0
    for text in strings_in(compose):
        for password in passwords_in(text):
            assert password == "" or SECRET_REFERENCE.fullmatch(password), f"literal password in {text!r}"
            checked += 1
    assert checked >= len(ALL_CONNECTION_IDS), "the password scan found fewer passwords than connections"


def test_env_example_documents_every_variable(compose):
    documented = set(re.findall(r"^([A-Z_][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), flags=re.MULTILINE))
    used = set(COMPOSE_VARIABLE.findall(COMPOSE_FILE.read_text()))
    assert used - documented == set(), "variables missing from .env.example"
    assert documented - used == set(), ".env.example documents variables compose does not read"


def test_minio_init_creates_the_buckets(services):
    script = " ".join(strings_in(services["minio-init"].get("command")))
    for bucket in REQUIRED_BUCKETS:
        assert bucket in script


def test_warehouse_init_creates_the_databases(services):
    init_dir = REPO / "docker" / "warehouse-init"
    mounts = services["warehouse"]["volumes"]
    assert any(mount.startswith("./docker/warehouse-init:/docker-entrypoint-initdb.d") for mount in mounts)
    scripts = " ".join(path.read_text() for path in sorted(init_dir.glob("*.s[hq]*")))
    for database in WAREHOUSE_DATABASES:
        assert re.search(rf"\b{database}\b", scripts), f"no init script creates database {database!r}"


def test_dockerfile_builds_from_the_locked_airflow_version():
    locked = re.search(r"^apache-airflow==(\S+)$", LOCK_FILE.read_text(), flags=re.MULTILINE)
    assert locked, "requirements.lock does not pin apache-airflow"
    base_images = [line.split()[1] for line in dockerfile_instructions() if line.upper().startswith("FROM ")]
    assert len(base_images) == 1
    assert re.fullmatch(rf"apache/airflow:{re.escape(locked.group(1))}(-python3\.\d+)?", base_images[0])
    assert locked.group(1) == "3.3.2"


def test_dockerfile_installs_the_lock_file_and_the_postgres_client():
    instructions = dockerfile_instructions()
    assert any(line.startswith("COPY") and "requirements.lock" in line for line in instructions)
    runs = [line for line in instructions if line.startswith("RUN ")]
    assert any(re.search(r"pip install\b.*--no-cache-dir.*-r \S*requirements\.lock", line) for line in runs)
    assert any(re.search(r"apt-get install\b.*postgresql-client", line) for line in runs)
