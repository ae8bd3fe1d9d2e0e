"""A private PostgreSQL for tests and benchmarks: Debian's binaries, a temporary folder, a loopback port.

The same steps as ``.ci/run`` (and ../shared/PLATFORM.md): ``initdb`` in a
temporary folder, owned by the ``postgres`` user when we are root (PostgreSQL
refuses to run as root), ``pg_ctl start`` on 127.0.0.1 and a free port, with
the socket in that folder; ``stop`` ends it. Nothing here reaches beyond loopback.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

__all__ = ["PostgresServer", "find_binaries", "fresh_schema_url", "start"]


def find_binaries() -> Path | None:
    """Debian's PostgreSQL server binaries (``/usr/lib/postgresql/<version>/bin``), newest first."""
    root = Path("/usr/lib/postgresql")
    if not root.is_dir():
        return None
    found = sorted((p / "bin" for p in root.iterdir() if (p / "bin" / "initdb").exists()), key=lambda p: p.parent.name, reverse=True)
    return found[0] if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    bin: Path
    folder: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, check=check, capture_output=True, text=True, timeout=120)

    def _options(self) -> str:
        return f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c max_connections=200"

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.folder / "data"), "-o", self._options(), "-l", str(self.folder / "log"), "-w", "-t", "60", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.folder / "data"), "-m", "fast", "-w", "stop", check=False)

    def restart(self) -> None:
        self._run("pg_ctl", "-D", str(self.folder / "data"), "-o", self._options(), "-l", str(self.folder / "log"), "-m", "fast", "-w", "-t", "60", "restart")

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def start(bin_dir: Path | None = None, folder: Path | None = None) -> PostgresServer:
    """initdb a new cluster and start it; the caller stops it (``remove`` also deletes the folder)."""
    bin_dir = bin_dir or find_binaries()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL's server binaries are not installed (apt-get install postgresql).")
    folder = folder or Path(tempfile.mkdtemp(prefix="sharedesk-pg-"))
    folder.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    server = PostgresServer(bin_dir, folder, _free_port())
    server._run("initdb", "-D", str(folder / "data"), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale", "C")
    server.start()
    return server


def fresh_schema_url(server_url: str, prefix: str = "t") -> str:
    """A new, empty schema on ``server_url``'s database, as a URL whose connections use it.

    A schema costs a millisecond where a database costs a checkpoint, so
    every test gets a log of its own.
    """
    import psycopg

    name = f"{prefix}_{secrets.token_hex(6)}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    parts = urlsplit(server_url)
    query = "&".join(q for q in (parts.query, f"options=-csearch_path%3D{name}") if q)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
