"""Where a PostgreSQL database lives, as a connection describes it: a value shared by layers.

The store builds it from an Airflow connection or an open connection; the engagement guard
compares two of them. It sits here, below both, so neither layer imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_PORT = 5432
LOCAL_HOST = "localhost"
LOCAL_HOST_NAMES = frozenset({"", "localhost", "127.0.0.1", "::1", "localhost.localdomain", "ip6-localhost"})


@dataclass(frozen=True)
class DatabaseTarget:
    """Where a database lives: host, port and database name, as a connection describes them."""

    host: str | None
    port: int | None
    database: str

    def normalised(self) -> tuple[str, int, str]:
        """(host, port, database) with local hosts, Unix sockets and a missing port made comparable."""
        host = (self.host or "").strip().lower().rstrip(".")
        if host in LOCAL_HOST_NAMES or host.startswith("/"):
            host = LOCAL_HOST
        return host, int(self.port or DEFAULT_PORT), self.database.casefold()

    @property
    def is_local(self) -> bool:
        """True when the host is this machine: a local host name, a Unix socket or no host at all."""
        return self.normalised()[0] == LOCAL_HOST

    def __str__(self) -> str:
        return f"{self.host or LOCAL_HOST}:{self.port or DEFAULT_PORT}/{self.database}"
