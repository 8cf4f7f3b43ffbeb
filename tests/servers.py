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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GONGKAI_")}
        env.update({f"GONGKAI_{n}_PORT": str(p) for n, p in self.ports.items()})
        env["GONGKAI_DATA_DIR"] = str(self.data_dir)
        return env

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service.upper()]}"

    @property
    def nats_url(self) -> str:
        return f"nats://127.0.0.1:{self.ports['NATS']}"

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
