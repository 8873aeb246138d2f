"""The machine a ``make bench`` run measured on, for its report: CPU model and cores, memory, Python,
the operating system, and the versions of the test stack's servers (PostgreSQL, the MongoDB-
compatible server). The /proc parsers are pure; :func:`describe_machine` reads the machine."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

from scripts.benchmarks.common import MONGO_CONN_ID, connection_uri, load_average

SERVER_TIMEOUT_MS = 5_000


def cpu_model(cpuinfo: str) -> str | None:
    """The first ``model name`` of /proc/cpuinfo (None where the kernel gives none, e.g. on ARM)."""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and value.strip():
            return value.strip()
    return None


def memory_total_mb(meminfo: str) -> float | None:
    """``MemTotal`` of /proc/meminfo, in MB (the file gives kB)."""
    for line in meminfo.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0] == "MemTotal:":
            return round(int(fields[1]) / 1024, 1)
    return None


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def postgres_version() -> str:
    import psycopg

    uri = connection_uri("postgres_prod").replace("postgres://", "postgresql://", 1)
    with psycopg.connect(uri, connect_timeout=5) as conn:
        return conn.execute("SELECT version()").fetchone()[0]


def mongo_version() -> str:
    from pymongo import MongoClient

    uri = "mongodb://" + connection_uri(MONGO_CONN_ID).split("://", 1)[1]
    with MongoClient(uri, serverSelectionTimeoutMS=SERVER_TIMEOUT_MS) as client:
        info, hello = client.server_info(), client.admin.command("hello")
    return mongo_version_text(info, hello)


def mongo_version_text(build_info: dict[str, Any], hello: dict[str, Any]) -> str:
    """The server's version from buildInfo; a compatible server that gives none (the local
    nx-27017) is named by the wire protocol versions it speaks."""
    wire = f"wire versions {hello.get('minWireVersion', '?')} to {hello.get('maxWireVersion', '?')}"
    if build_info.get("version"):
        return f"{build_info['version']} ({wire})"
    return f"no version in buildInfo ({wire})"


def server_versions() -> dict[str, str]:
    """Each server's version, or why it could not be read (the report says so rather than failing)."""
    versions = {}
    for name, read in (("postgresql", postgres_version), ("mongodb", mongo_version)):
        try:
            versions[name] = read()
        except Exception as error:  # noqa: BLE001 - a server down is reported, the benchmarks say more
            versions[name] = f"unknown ({type(error).__name__}: {error})"
    return versions


def describe_machine() -> dict[str, Any]:
    return {
        "cpu_model": cpu_model(_read("/proc/cpuinfo")),
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)),
        "memory_mb": memory_total_mb(_read("/proc/meminfo")),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "servers": server_versions(),
        "load_average": load_average(),
    }
