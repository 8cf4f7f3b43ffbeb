"""compose.yaml, checked without Docker: it parses, its images are pinned, its references resolve, every
gongkai process is health-checked, and every GONGKAI_* variable it sets is one the code reads."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
import yaml

from gongkai.config import Settings
from gongkai.serve import SERVICES

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"

#: images of the servers gongkai uses rather than runs: they need no healthcheck of ours to be required
INFRASTRUCTURE_IMAGES = ("postgres:", "nats:", "temporalio/")
#: the gongkai processes compose.yaml must run
GONGKAI_PROCESSES = {*SERVICES, "worker", "dashboard"}
GONGKAI_NAME = re.compile(r"GONGKAI_[A-Z0-9_]+")
INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[-?+])?([^}]*)\}")


@pytest.fixture(scope="module")
def text() -> str:
    return COMPOSE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def compose(text: str) -> dict:
    return yaml.safe_load(text)  # YAML merge keys (<<) are resolved here, as compose resolves them


@pytest.fixture(scope="module")
def services(compose: dict) -> dict[str, dict]:
    return compose["services"]


def _image_is_pinned(image: str) -> bool:
    name, _, digest = image.partition("@")
    if digest:
        return digest.startswith("sha256:")
    last = name.rsplit("/", 1)[-1]  # a registry host may carry a port: registry:5000/org/name:tag
    if ":" not in last:
        return False
    tag = last.rsplit(":", 1)[1]
    return tag != "latest" and any(c.isdigit() for c in tag)


def _depends_on(service: dict) -> dict[str, str]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {d: "service_started" for d in deps}
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def _environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def _is_infrastructure(service: dict) -> bool:
    return "build" not in service and str(service.get("image", "")).startswith(INFRASTRUCTURE_IMAGES)


def test_parses_with_services_and_volumes(compose: dict) -> None:
    assert isinstance(compose, dict)
    assert isinstance(compose.get("services"), dict) and compose["services"]
    assert isinstance(compose.get("volumes", {}), dict)


def test_runs_every_gongkai_process_from_the_one_dockerfile(services: dict) -> None:
    assert DOCKERFILE.exists()
    built = {name for name, s in services.items() if "build" in s}
    assert built >= GONGKAI_PROCESSES, f"not built from ./Dockerfile: {GONGKAI_PROCESSES - built}"
    for name in built:
        build = services[name]["build"]
        context = build if isinstance(build, str) else build.get("context", ".")
        dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
        assert (ROOT / context / dockerfile).resolve() == DOCKERFILE, name


def test_every_image_is_pinned_or_built(services: dict) -> None:
    for name, s in services.items():
        image = s.get("image")
        assert image or "build" in s, f"{name}: neither image nor build"
        if image:
            assert _image_is_pinned(image), f"{name}: image {image!r} is not pinned to a version"


def test_the_servers_are_there(services: dict) -> None:
    images = [str(s.get("image", "")) for s in services.values()]
    assert any(i.startswith("nats:") for i in images)
    assert any(i.startswith("temporalio/auto-setup:") for i in images)
    assert sum(i.startswith("postgres:") for i in images) >= 2  # one for Temporal, one for the projections
    nats = next(s for s in services.values() if str(s.get("image", "")).startswith("nats:"))
    command = " ".join(nats.get("command", []))
    assert re.search(r"(^|\s)(-js|--jetstream)(\s|$)", command), "NATS must run with JetStream"
    assert re.search(r"(-sd|--store_dir)\s+\S+", command), "JetStream needs a file store directory"


def test_depends_on_refers_to_defined_services(services: dict) -> None:
    for name, s in services.items():
        for dep, condition in _depends_on(s).items():
            assert dep in services, f"{name} depends on undefined service {dep}"
            assert dep != name
            assert condition in ("service_started", "service_healthy", "service_completed_successfully")
            if condition == "service_healthy":
                assert "healthcheck" in services[dep], f"{name} waits for {dep} to be healthy; it has no healthcheck"


def test_named_volumes_are_declared(compose: dict, services: dict) -> None:
    declared = set(compose.get("volumes") or {})
    for name, s in services.items():
        for v in s.get("volumes") or []:
            if isinstance(v, dict):
                source = v.get("source") if v.get("type", "volume") == "volume" else None
            else:
                source = v.split(":", 1)[0] if ":" in v else None
                if source and (source.startswith((".", "/", "~", "$")) or "/" in source):
                    source = None  # a bind mount
            if source:
                assert source in declared, f"{name} uses volume {source}, not declared under volumes:"


def test_stateful_servers_keep_their_data_in_volumes(services: dict) -> None:
    for name, s in services.items():
        image = str(s.get("image", ""))
        if image.startswith(("postgres:", "nats:")):
            assert s.get("volumes"), f"{name} would lose its data with its container"


def test_every_process_but_the_servers_has_a_healthcheck(services: dict) -> None:
    for name, s in services.items():
        if _is_infrastructure(s):
            continue
        hc = s.get("healthcheck")
        assert hc and not hc.get("disable") and hc.get("test"), f"{name} has no healthcheck"


def test_service_healthchecks_use_their_health_routes(services: dict) -> None:
    for name in SERVICES:
        port = _environment(services[name])[f"GONGKAI_{name.upper()}_PORT"]
        assert f"127.0.0.1:{port}/health" in " ".join(services[name]["healthcheck"]["test"]), name
    assert "/_stcore/health" in " ".join(services["dashboard"]["healthcheck"]["test"])


def test_commands_run_real_modules(services: dict) -> None:
    for name in SERVICES:
        assert services[name]["command"] == ["python", "-m", "gongkai.serve", name]
    assert services["worker"]["command"] == ["python", "-m", "workflows.worker"]
    dash = services["dashboard"]["command"]
    assert dash[:4] == ["python", "-m", "streamlit", "run"]
    assert (ROOT / dash[4]).is_file(), dash[4]
    for s in services.values():
        cmd = s.get("command") or []
        if cmd[:2] == ["python", "-m"]:
            assert importlib.util.find_spec(cmd[2]) is not None, cmd[2]


def test_published_ports_are_the_configured_ones(services: dict) -> None:
    for name in SERVICES:
        port = _environment(services[name])[f"GONGKAI_{name.upper()}_PORT"]
        container_ports = [str(p).rsplit(":", 1)[-1] for p in services[name].get("ports", [])]
        assert container_ports == [port], name
    dash = services["dashboard"]["command"]
    port = dash[dash.index("--server.port") + 1]
    assert [str(p).rsplit(":", 1)[-1] for p in services["dashboard"]["ports"]] == [port]


def test_gongkai_variables_are_settings_or_read_by_the_dashboard(text: str) -> None:
    settings = set(Settings.env_names().values())
    dashboard_reads = {m for f in (ROOT / "dashboard").glob("*.py") for m in GONGKAI_NAME.findall(f.read_text())}
    assert {"GONGKAI_DASHBOARD_TOKEN", "GONGKAI_REPORTS_URL"} <= dashboard_reads
    unknown = set(GONGKAI_NAME.findall(text)) - settings - dashboard_reads
    assert not unknown, f"compose.yaml names GONGKAI_* variables the code never reads: {sorted(unknown)}"


def test_processes_reach_the_servers_by_service_name(services: dict) -> None:
    for name in (*SERVICES, "worker"):
        env = _environment(services[name])
        assert env["GONGKAI_HOST"] == "0.0.0.0", name
        for var in ("GONGKAI_NATS_URL", "GONGKAI_TEMPORAL_ADDRESS"):
            host = re.sub(r"^\w+://", "", env[var]).split(":")[0]
            assert host in services, f"{name}: {var} points at {host}, not a service of this file"
    for name in SERVICES:
        url = _environment(services[name])["GONGKAI_DATABASE_URL"]
        assert url.startswith("postgresql+psycopg://"), name
        assert url.split("@", 1)[1].split(":")[0] in services, name
    reports_url = _environment(services["dashboard"])["GONGKAI_REPORTS_URL"]
    assert re.sub(r"^\w+://", "", reports_url).split(":")[0] == "reports"


def test_secrets_come_from_the_environment(services: dict) -> None:
    for name in SERVICES:
        key = _environment(services[name])["GONGKAI_JWT_KEY"]
        m = INTERPOLATION.fullmatch(key)
        assert m and m.group(2) == ":?", f"{name}: GONGKAI_JWT_KEY must be required from the environment, not set here"
    for s in services.values():
        for var, value in _environment(s).items():
            if "PASSWORD" in var or "PWD" in var:
                assert INTERPOLATION.fullmatch(value), f"{var} is written into compose.yaml"


def test_interpolated_variables_are_documented(text: str) -> None:
    deploy = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    for var in {m.group(1) for m in INTERPOLATION.finditer(text)}:
        assert var in deploy, f"{var} is used by compose.yaml but not explained in docs/deploy.md"


def test_dockerfile_is_pinned_and_brings_the_postgres_driver() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    base = re.search(r"^FROM\s+(\S+)", text, re.M).group(1)
    assert base.startswith("python:3.11") and _image_is_pinned(base), base
    assert 'pip install ".[postgres]"' in text
    pyproject = (DOCKERFILE.parent / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'^postgres = \[.*psycopg\[binary\]', pyproject, re.M)
