"""Static checks of docker-compose.yaml, docker/Dockerfile, .env.example and the init scripts.

Docker may not run where the tests do, so the compose file is validated as data: it parses with
its anchors and merge keys, images are pinned, dependencies exist, the Airflow services run the
CeleryExecutor with a connection for every id the project uses, and no secret is written in it.
The deployment starts safe or not at all: .env.example leaves every secret empty for compose's
`:?` checks, every port is on 127.0.0.1 by default and clear of the local stack's, the shared
keys come from .env, airflow-init's shell really refuses a credential that would break a
connection (it is run here, with bash), the roles are least-privileged, and healthchecks cannot
pass against a server still initialising. Every DAG runs as deployed: its folders are volumes
of the worker, and a DAG another DAG or an Asset starts is not paused at creation.
tests/dags/test_runtime_lock.py proves the image's lock on its own.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
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
WAREHOUSE_INIT = REPO / "docker" / "warehouse-init"
MONGO_INIT = REPO / "docker" / "mongo-init"
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
            source = with_defaults(mount).split(":", 1)[0]
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
        if conn_id == "postgres_prod":
            continue  # production, from .env: test_the_elt_reads_production_from_env_through_a_read_only_role
        if value.lstrip().startswith("{"):
            extra = json.loads(value)["extra"]
            assert extra["endpoint_url"] == "http://minio:9000", conn_id
        else:
            host = urlsplit(ANY_REFERENCE.sub("ref", value)).hostname
            assert host in ("warehouse", "mongo"), f"{conn_id}: unexpected host {host!r}"
            if value.startswith("mongo://"):
                assert "authSource=admin" in value
    for database in ("analytics", "app"):
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
    # Every connection but postgres_prod (a whole URI from .env) holds a password.
    assert checked >= len(ALL_CONNECTION_IDS) - 1, "the password scan found fewer passwords than connections"


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


def test_dockerfile_builds_from_the_slim_image_of_the_locked_airflow_version():
    locked = re.search(r"^apache-airflow==(\S+)$", LOCK_FILE.read_text(), flags=re.MULTILINE)
    assert locked, "requirements.lock does not pin apache-airflow"
    base_images = [line.split()[1] for line in dockerfile_instructions() if line.upper().startswith("FROM ")]
    assert len(base_images) == 1
    assert base_images[0] == f"apache/airflow:slim-{locked.group(1)}-python3.11"
    assert locked.group(1) == "3.3.2"


def test_dockerfile_installs_the_lock_file_and_the_postgres_client():
    instructions = dockerfile_instructions()
    assert any(line.startswith("COPY") and "requirements.lock" in line for line in instructions)
    runs = [line for line in instructions if line.startswith("RUN ")]
    assert any(re.search(r"pip install\b.*--no-cache-dir.*-r \S*requirements\.lock", line) for line in runs)
    assert any(re.search(r"apt-get install\b.*postgresql-client", line) for line in runs)


# ----------------------------------------------------------------------------- the image


def test_dockerfile_installs_the_runtime_lock_only_then_runs_pip_check():
    instructions = dockerfile_instructions()
    assert not any("requirements-dev" in line for line in instructions), "the image gets the dev lock"
    copies = [line for line in instructions if line.startswith("COPY")]
    assert [line for line in copies if "requirements" in line] == [
        next(line for line in copies if re.search(r"\brequirements\.lock\b", line))
    ]
    runs = [line for line in instructions if line.startswith("RUN ")]
    assert any(
        re.search(r"pip install\b.*-r \S*requirements\.lock\s*&&\s*pip check\s*$", line) for line in runs
    )


def test_postgres_client_major_version_is_a_build_argument_defaulting_to_16():
    instructions = dockerfile_instructions()
    assert "ARG POSTGRES_CLIENT_VERSION=16" in instructions
    runs = " ".join(line for line in instructions if line.startswith("RUN "))
    assert re.search(r"apt-get install\b[^;&]*postgresql-client-\$\{POSTGRES_CLIENT_VERSION\}", runs)
    assert "ENV ANALYTICS_PG_BIN=/usr/lib/postgresql/${POSTGRES_CLIENT_VERSION}/bin" in instructions


# ----------------------------------------------------------------------------- starts safe, or not at all


def env_example() -> dict[str, str]:
    pairs = re.findall(r"^([A-Z_][A-Z0-9_]*)=(.*)$", ENV_EXAMPLE.read_text(), flags=re.MULTILINE)
    return dict(pairs)


def with_defaults(text: str, values: dict[str, str] | None = None) -> str:
    """``text`` as compose would interpolate it from ``values`` (none: an empty .env)."""
    values = values or {}

    def resolve(match: re.Match) -> str:
        name, operator, default = match.group(1), match.group(2) or "", match.group(3) or ""
        value = values.get(name, "")
        if operator in (":-", "-"):
            return value if (value or operator == "-" and name in values) else default
        return value

    return re.sub(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}", resolve, text).replace(
        "$$", "$"
    )


def test_env_example_leaves_every_secret_empty_and_compose_requires_each():
    example = env_example()
    secrets = {name for name in example if SECRET_KEY.search(name)} | {"ELT_PRODUCTION_URI"}
    assert len(secrets) >= 10
    filled = {name: example[name] for name in secrets if example[name]}
    assert filled == {}, "an unconfigured start must be stopped by compose's :? checks"
    compose_text = COMPOSE_FILE.read_text()
    for name in secrets:
        references = re.findall(rf"(?<!\$)\$\{{{name}(\W[^}}]*)?\}}", compose_text)
        assert references, f"{name} is not used"
        assert all(reference.startswith(":?") for reference in references), f"{name}: every use must be :?"


def published_ports(services: dict) -> dict[str, list[str]]:
    """Each service's published ports as compose resolves them with an empty .env."""
    return {
        name: [with_defaults(str(port)) for port in service.get("ports", [])]
        for name, service in services.items()
    }


def test_every_port_is_published_on_localhost_by_default(services):
    for name, ports in published_ports(services).items():
        for port in ports:
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond this machine"
    api_port = services["airflow-apiserver"]["ports"][0]
    widened = with_defaults(api_port, {"AIRFLOW_API_BIND_ADDRESS": "0.0.0.0"})
    assert widened.startswith("0.0.0.0:"), "a variable opens the UI wider"


def test_host_ports_do_not_collide_with_the_local_stack(services):
    from scripts.stack import DEFAULT_PORTS
    from tests.airflow_services import DEFAULT_API_PORT

    local = {port for profile in DEFAULT_PORTS.values() for port in profile.values()}
    local |= {8080, DEFAULT_API_PORT}  # `make ui` (airflow standalone), the tests' api-server
    host_ports = {int(port.split(":")[1]) for ports in published_ports(services).values() for port in ports}
    assert len(host_ports) >= 6 and host_ports & local == set()


def test_the_api_secret_key_and_jwt_secret_are_shared_by_every_airflow_service(common_environment, services):
    keys = {
        "AIRFLOW__API__SECRET_KEY": "AIRFLOW_API_SECRET_KEY",
        "AIRFLOW__API_AUTH__JWT_SECRET": "AIRFLOW_JWT_SECRET",
    }
    for setting, variable in keys.items():
        assert re.fullmatch(rf"\$\{{{variable}:\?[^}}]+\}}", common_environment[setting]), setting
        for name, service in airflow_services(services).items():
            assert environment_of(service).get(setting) == common_environment[setting], f"{name}: {setting}"


def init_prelude(services: dict, values: dict[str, str]) -> str:
    """airflow-init's shell up to its first change to the container, interpolated as compose would."""
    script = with_defaults(services["airflow-init"]["command"][1], values)
    return script[: script.index("mkdir -p")]


def run_init_prelude(services: dict, values: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    """Run that shell with bash and this interpreter as ``python``, in the init's environment."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    if not (tmp_path / "python").exists():
        (tmp_path / "python").symlink_to(sys.executable)
    environment = {
        name: with_defaults(str(value), values)
        for name, value in environment_of(services["airflow-init"]).items()
    }
    environment["PATH"] = f"{tmp_path}:{os.environ['PATH']}"
    return subprocess.run(
        ["bash", "-c", init_prelude(services, values)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def checked_credentials(services) -> list[str]:
    return environment_of(services["airflow-init"])["CHECKED_CREDENTIALS"].split()


@pytest.fixture
def clean_values(services) -> dict[str, str]:
    values = {name: "Plain-value_1.x~" for name in checked_credentials(services)}
    return {
        **values,
        "AIRFLOW_ADMIN_PASSWORD": "x",
        "AIRFLOW_UID": "1000",
        "ELT_PRODUCTION_URI": "postgres://a",
    }


def test_airflow_init_accepts_safe_credentials(services, clean_values, tmp_path):
    result = run_init_prelude(services, clean_values, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "ERROR" not in result.stderr


@pytest.mark.parametrize("character", list('/#?%@:"\\'))
def test_airflow_init_refuses_a_credential_that_would_break_a_connection(
    services, clean_values, tmp_path, character
):
    for name in checked_credentials(services):
        values = {**clean_values, name: f"abc{character}def"}
        result = run_init_prelude(services, values, tmp_path / name)
        assert result.returncode != 0, f"{name} with {character!r} accepted"
        assert f"ERROR: {name} " in result.stderr


def variables_in_connections(compose_text: str) -> set[str]:
    """Variables written in a URI's user:password@ or in a JSON connection's login or password."""
    references = ANY_REFERENCE.findall(compose_text)
    masked = compose_text
    for number, reference in enumerate(references):
        masked = masked.replace(reference, f"REF{number}REF", 1)
    pieces = re.findall(r"[a-z][a-z0-9+.-]*://([^\s/@\"']*)@", masked, flags=re.IGNORECASE)
    pieces += re.findall(r"\"(?:login|password)\"\s*:\s*\"([^\"]*)\"", masked)
    numbers = [int(number) for piece in pieces for number in re.findall(r"REF(\d+)REF", piece)]
    return {name for number in numbers for name in COMPOSE_VARIABLE.findall(references[number])}


def test_airflow_init_checks_every_credential_written_into_a_connection(services):
    in_connections = variables_in_connections(COMPOSE_FILE.read_text())
    assert {
        "AIRFLOW_DB_PASSWORD",
        "WAREHOUSE_PASSWORD",
        "MINIO_ROOT_PASSWORD",
        "MONGO_AIRFLOW_PASSWORD",
    } <= in_connections
    assert in_connections - set(checked_credentials(services)) == set()
    init_environment = environment_of(services["airflow-init"])
    for name in checked_credentials(services):
        assert COMPOSE_VARIABLE.findall(str(init_environment[name])) == [name], (
            f"{name} not passed to airflow-init"
        )
    for name, service in services.items():
        if name.startswith("airflow-") and name not in ("airflow-init", "airflow-cli"):
            assert depends_on_of(service).get("airflow-init") == "service_completed_successfully", name


def test_airflow_init_keeps_the_official_resource_and_uid_checks(services, clean_values, tmp_path):
    script = services["airflow-init"]["command"][1]
    for probe in ("getconf _PHYS_PAGES", "nproc", "df -Pk /"):
        assert probe in script
    result = run_init_prelude(services, {**clean_values, "AIRFLOW_UID": ""}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "WARNING: AIRFLOW_UID is not set" in result.stdout
    result = run_init_prelude(services, clean_values, tmp_path / "uid-set")
    assert "AIRFLOW_UID" not in result.stdout


def test_the_elt_reads_production_from_env_through_a_read_only_role(common_environment, services):
    assert re.fullmatch(r"\$\{ELT_PRODUCTION_URI:\?[^}]+\}", common_environment["AIRFLOW_CONN_POSTGRES_PROD"])
    warehouse = environment_of(services["warehouse"])
    assert set(warehouse) >= {"WAREHOUSE_READER_USER", "WAREHOUSE_READER_PASSWORD"}
    script = (WAREHOUSE_INIT / "02-elt-reader.sh").read_text()
    grants = re.findall(r"^GRANT (.+?) ON (.+?) TO", script, flags=re.MULTILINE)
    assert grants and {privilege for privilege, _ in grants} == {"CONNECT", "USAGE", "SELECT"}
    assert "default_transaction_read_only = on" in script
    assert re.search(r"REVOKE CONNECT ON DATABASE analytics, app FROM PUBLIC", script)
    assert "elt_reader" in env_example()["WAREHOUSE_READER_USER"]


def fixed_mongo_databases() -> set[str]:
    config = REPO / "include" / "config"
    return {
        json.loads((config / "tracking_logs.json").read_text())["master_database"],
        json.loads((config / "bi.json").read_text())["database"],
        json.loads((config / "messages.json").read_text())["database"],
    }


def test_airflow_uses_its_own_mongo_user_with_read_write_roles_only(common_environment, services):
    uri = common_environment["AIRFLOW_CONN_MONGO_DEFAULT"]
    assert "MONGO_AIRFLOW_USER" in uri and "MONGO_AIRFLOW_PASSWORD" in uri and "MONGO_ROOT" not in uri
    mongo = services["mongo"]
    assert "./docker/mongo-init:/docker-entrypoint-initdb.d:ro" in mongo["volumes"]
    assert {"MONGO_AIRFLOW_USER", "MONGO_AIRFLOW_PASSWORD"} <= set(environment_of(mongo))
    script = (MONGO_INIT / "01-airflow-user.js").read_text()
    roles = re.findall(r"\{\s*role:\s*\"(\w+)\",\s*db:\s*\"(\w+)\"\s*\}", script)
    assert {db for role, db in roles if role == "readWrite"} >= fixed_mongo_databases()
    assert {role for role, _ in roles} <= {"readWrite", "readWriteAnyDatabase"}
    assert "createUser" in script and "process.env.MONGO_AIRFLOW_PASSWORD" in script


REVIEWED_RELEASES = {
    # service: (image repository, lowest acceptable version); see the README for how they were chosen.
    "postgres": ("postgres", (16, 15)),
    "warehouse": ("postgres", (16, 15)),
    "redis": ("redis", (7, 2, 15)),
    "mongo": ("mongo", (7, 0, 40)),
    "minio": ("quay.io/minio/minio", (2025, 9, 7)),
    "minio-init": ("quay.io/minio/mc", (2025, 8, 13)),
}


@pytest.mark.parametrize("service", sorted(REVIEWED_RELEASES))
def test_images_are_at_patched_releases(services, service):
    repository, lowest = REVIEWED_RELEASES[service]
    name, _, tag = services[service]["image"].rpartition(":")
    assert name == repository
    numbers = tuple(int(part) for part in re.findall(r"\d+", tag.split("T")[0].split("-bookworm")[0]))
    assert numbers[: len(lowest) - 1] == lowest[:-1], f"{service}: another major line than reviewed"
    assert numbers >= lowest, f"{service}: {tag} is older than the patched release"


def test_healthchecks_cannot_pass_while_a_server_initialises(services):
    for name in ("postgres", "warehouse"):
        check = " ".join(strings_in(services[name]["healthcheck"]["test"]))
        assert re.search(r"pg_isready\b.*-h[\" ,]+127\.0\.0\.1", check), f"{name}: not over TCP"
    mongo = " ".join(strings_in(services["mongo"]["healthcheck"]["test"]))
    assert '--host "$${HOSTNAME}"' in mongo and "MONGO_AIRFLOW_USER" in mongo


# ----------------------------------------------------------------------------- every DAG runs as deployed


DIRECTORY_VARIABLE = re.compile(r"var\.value\.get\(['\"](\w+_dir)['\"]")


def test_every_folder_variable_has_a_default_on_a_worker_volume(common_environment, services):
    sources = [*(REPO / "dags").glob("*.py"), *(REPO / "plugins" / "analytics").rglob("*.py")]
    used = {name for path in sources for name in DIRECTORY_VARIABLE.findall(path.read_text())}
    assert {"edx_package_dir", "edx_tracking_dir", "edx_report_dir", "messages_export_dir"} <= used
    worker_mounts = {with_defaults(mount).split(":")[1] for mount in services["airflow-worker"]["volumes"]}
    for name in used:
        value = common_environment.get(f"AIRFLOW_VAR_{name.upper()}")
        assert value, f"AIRFLOW_VAR_{name.upper()} has no default"
        assert any(value == mount or value.startswith(mount + "/") for mount in worker_mounts), (
            f"{name} = {value} is on no volume of the worker"
        )
    init_script = services["airflow-init"]["command"][1]
    assert "data/{edx-package,tracking,reports,exports}" in init_script


@pytest.fixture(scope="module")
def dag_bag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags"))


def started_by_others(dag_bag) -> set[str]:
    """DAGs an Asset schedules, and DAGs another DAG triggers."""
    asset_scheduled = {
        dag_id
        for dag_id, dag in dag_bag.dags.items()
        if any(cls.__name__ == "AssetTriggeredTimetable" for cls in type(dag.timetable).__mro__)
    }
    triggered = {
        task.trigger_dag_id
        for dag in dag_bag.dags.values()
        for task in dag.tasks
        if any(cls.__name__ == "TriggerDagRunOperator" for cls in type(task).__mro__)
    }
    return asset_scheduled | triggered


def test_a_dag_started_by_another_or_by_an_asset_is_not_paused_at_creation(dag_bag, common_environment):
    assert dag_bag.import_errors == {}
    dependents = started_by_others(dag_bag)
    assert dependents >= {"engagement_weekly_views", "course_tracking_extraction", "course_kpis"}
    paused = sorted(
        dag_id for dag_id in dependents if dag_bag.dags[dag_id].is_paused_upon_creation is not False
    )
    assert paused == [], "the upstream DAG fails or its Asset events go unused while these stay paused"
    # Every other DAG waits to be unpaused on purpose (the README's deployment section says which).
    assert common_environment["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] == "true"


# ----------------------------------------------------------------------------- the warehouse's init scripts, run


@pytest.fixture(scope="module")
def init_warehouse(tmp_path_factory):
    """A throwaway PostgreSQL cluster on which docker/warehouse-init/ has run, as the image runs it.

    The scripts run twice, as a restarted init would; a table is created in prod before them and
    one after, to prove the reader's default privileges. Yields ``(port, reader)``.
    """
    import shutil
    import socket
    import tempfile

    from scripts.stack import as_postgres_user, chown_to_postgres, postgres_bin_dir

    bin_dir = postgres_bin_dir()
    root = Path(tempfile.mkdtemp(prefix="warehouse-init-", dir="/var/tmp"))
    root.chmod(0o755)
    data = root / "data"
    data.mkdir()
    chown_to_postgres(data)
    chown_to_postgres(root)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    owner, reader = "warehouse", "elt_reader_probe"

    def as_postgres(command: list[str]) -> None:
        subprocess.run(as_postgres_user(command), check=True, capture_output=True, cwd="/", timeout=120)

    as_postgres([str(bin_dir / "initdb"), "-D", str(data), "-U", owner, "--auth=trust", "-E", "UTF8"])
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    as_postgres(
        [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-o", options, "-w", "start"]
    )
    environment = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "PGHOST": "127.0.0.1",
        "PGPORT": str(port),
        "POSTGRES_USER": owner,
        "WAREHOUSE_READER_USER": reader,
        "WAREHOUSE_READER_PASSWORD": "probe-password",
    }

    def psql(database: str, sql: str) -> None:
        command = [str(bin_dir / "psql"), "-v", "ON_ERROR_STOP=1", "-U", owner, "-d", database, "-c", sql]
        subprocess.run(command, env=environment, check=True, capture_output=True, timeout=60)

    def run_scripts() -> None:
        for script in sorted(WAREHOUSE_INIT.glob("*.sh")):
            result = subprocess.run(
                ["bash", str(script)], env=environment, capture_output=True, text=True, timeout=120
            )
            assert result.returncode == 0, f"{script.name}: {result.stderr}"

    try:
        run_scripts()
        psql(
            "prod",
            "CREATE TABLE early (id serial PRIMARY KEY, label text); INSERT INTO early (label) VALUES ('a')",
        )
        run_scripts()  # a second run is harmless, and grants what exists now
        psql(
            "prod",
            "CREATE TABLE late (id serial PRIMARY KEY, label text); INSERT INTO late (label) VALUES ('b')",
        )
        yield port, reader
    finally:
        subprocess.run(
            as_postgres_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
            cwd="/",
            timeout=60,
        )
        shutil.rmtree(root, ignore_errors=True)


def test_warehouse_init_reader_selects_in_prod_and_nothing_more(init_warehouse):
    import psycopg

    port, reader = init_warehouse
    with psycopg.connect(host="127.0.0.1", port=port, user=reader, dbname="prod", autocommit=True) as conn:
        assert conn.execute("SELECT label FROM early").fetchall() == [("a",)]
        assert conn.execute("SELECT label FROM late").fetchall() == [("b",)], "default privileges"
        for statement in (
            "INSERT INTO early (label) VALUES ('x')",
            "CREATE TABLE mine (id int)",
            "DELETE FROM late",
        ):
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                conn.execute(statement)
        conn.execute("SET default_transaction_read_only = off")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("INSERT INTO early (label) VALUES ('x')")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE TABLE mine (id int)")
    for database in ("analytics", "app"):
        with pytest.raises(psycopg.OperationalError, match="permission denied"):
            psycopg.connect(host="127.0.0.1", port=port, user=reader, dbname=database).close()


def test_warehouse_init_reader_can_dump_prod_as_the_elt_does(init_warehouse):
    from scripts.stack import postgres_bin_dir

    port, reader = init_warehouse
    command = [
        str(postgres_bin_dir() / "pg_dump"),
        "-Fc",
        "--schema=public",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
    ]
    result = subprocess.run([*command, "-U", reader, "prod"], capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.startswith(b"PGDMP") and b"late" in result.stdout
