"""compose.yaml and deploy/, checked without Docker.

compose.yaml is valid against the Compose Specification's JSON schema, vendored as tests/data/compose-spec.json:
repository compose-spec/compose-spec, path schema/compose-spec.json, commit
b2835e8acc1e42e7aecbc27a9bc4a1fc66ef21ba (draft 2019-09 schema; the spec has no version number of its own),
unchanged (its sha256 is checked below). Beyond the schema: images are pinned, references resolve, every
long-running container is health-checked, every GONGKAI_* variable set is one the code reads, the replicated
services publish no host port, the NATS cluster has three routed nodes, and each NATS user may do what its
process needs and only the items service may write events. tests/integration/test_nats_cluster.py runs the
same NATS configuration for real.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

from contracts import subjects
from gongkai import natsauth
from gongkai.config import Settings
from gongkai.serve import SERVICES

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
SCHEMA = ROOT / "tests" / "data" / "compose-spec.json"
SCHEMA_SHA256 = "91ae91d24640d45634c9d4b5f4e3a5ce1b6b6da38bc06b27e2a04891f81f32da"
NATS_CONF = ROOT / "deploy" / "nats" / "nats-server.conf"
NGINX_CONF = ROOT / "deploy" / "nginx" / "nginx.conf"
NATS_SERVER = ROOT / ".venv" / "bin" / "nats-server"

#: the gongkai processes compose.yaml must run
GONGKAI_PROCESSES = {*SERVICES, "worker", "dashboard"}
#: the gongkai processes that run as several replicas behind the proxy
REPLICATED = {*SERVICES, "worker"}
#: which NATS user each gongkai process connects as
NATS_USERS = {"items": "items", "reviews": "reviews", "reports": "reports", "worker": "worker"}
NATS_NODES = ("nats-1", "nats-2", "nats-3")
GONGKAI_NAME = re.compile(r"GONGKAI_[A-Z0-9_]+")
INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[-?+])?([^}]*)\}")
URL_PASSWORD = re.compile(r"://([^:@/\s,]+):(\$\{[^}]*\}|[^@\s,]*)@")
#: subjects an event append uses (one per aggregate instance)
EVENT_SUBJECTS = ("gongkai.events.item.x", "gongkai.events.application.a1", "gongkai.events.index.org-2026")


@pytest.fixture(scope="module")
def text() -> str:
    return COMPOSE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def compose(text: str) -> dict:
    return yaml.safe_load(text)  # YAML merge keys (<<) are resolved here, as compose resolves them


@pytest.fixture(scope="module")
def services(compose: dict) -> dict[str, dict]:
    return compose["services"]


# --- helpers ----------------------------------------------------------------------------------------------

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


def _networks(service: dict) -> set[str]:
    nets = service.get("networks")
    if nets is None:
        return {"default"}
    return set(nets) if isinstance(nets, (list, dict)) else set()


def _one_shot(services: dict) -> set[str]:
    """Jobs that run to completion (others wait for them with service_completed_successfully)."""
    return {dep for s in services.values() for dep, cond in _depends_on(s).items()
            if cond == "service_completed_successfully"}


def _long_running(services: dict) -> dict[str, dict]:
    """Every container that stays up with the stack: not a one-shot job, not an operator's tool."""
    jobs = _one_shot(services)
    return {n: s for n, s in services.items() if n not in jobs and not s.get("profiles")}


def _config_file(compose: dict, service: dict, target: str) -> Path:
    """The file a service gets at `target` through compose `configs:`."""
    for c in service.get("configs") or []:
        if isinstance(c, dict) and c.get("target") == target:
            return (ROOT / compose["configs"][c["source"]]["file"]).resolve()
    raise AssertionError(f"nothing mounted at {target}")


def _nats_urls(value: str) -> list[str]:
    return [u.strip() for u in value.split(",") if u.strip()]


def _host_port(url: str) -> tuple[str, str]:
    hostport = re.sub(r"^\w[\w+.-]*://", "", url).rsplit("@", 1)[-1].split("/")[0]
    host, _, port = hostport.partition(":")
    return host, port


# --- the NATS configuration format (just enough of it for deploy/nats/nats-server.conf) -------------------

_TOKEN = re.compile(r"""
    (?P<space>[\s,;]+) | (?P<comment>(?:\#|//)[^\n]*) | (?P<open>[{\[]) | (?P<close>[}\]]) | (?P<sep>[:=])
  | "(?P<dq>(?:[^"\\]|\\.)*)" | '(?P<sq>[^']*)' | (?P<bare>[^\s,;:=\[\]{}\#"']+)
""", re.X)


def _nats_tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        assert m, f"cannot read the NATS configuration at {text[pos:pos + 40]!r}"
        pos = m.end()
        kind = m.lastgroup
        if kind in ("space", "comment"):
            continue
        if kind in ("dq", "sq"):
            out.append(("str", m.group(kind)))
        elif kind == "bare":
            out.append(("bare", m.group(kind)))
        else:
            out.append((kind, m.group(0)))
    return out


class Var(str):
    """A bare $VARIABLE of the NATS configuration (the server substitutes it from its environment)."""


def parse_nats_conf(text: str) -> dict:
    """Maps (braces), arrays (brackets), `key: value` / `key = value` / `key value`, quoted strings, bare
    words, numbers and booleans; a bare $VARIABLE becomes `Var("$VARIABLE")`."""
    tokens = _nats_tokens(text)
    pos = 0

    def value():
        nonlocal pos
        kind, tok = tokens[pos]
        pos += 1
        if tok == "{":
            return mapping("}")
        if tok == "[":
            items = []
            while tokens[pos][1] != "]":
                items.append(value())
            pos += 1
            return items
        if kind == "bare":
            if tok in ("true", "false"):
                return tok == "true"
            if tok.startswith("$"):
                return Var(tok)
            return int(tok) if tok.isdigit() else tok
        assert kind == "str", f"unexpected {tok!r}"
        return tok

    def mapping(end: str | None) -> dict:
        nonlocal pos
        out = {}
        while pos < len(tokens) and tokens[pos][1] != end:
            kind, key = tokens[pos]
            assert kind in ("bare", "str"), f"expected a key, got {key!r}"
            pos += 1
            if tokens[pos][0] == "sep":
                pos += 1
            assert key not in out, f"{key} given twice"
            out[key] = value()
        pos += 1
        return out

    return mapping(None)


def nats_conf_text() -> str:
    """deploy/nats/nats-server.conf with its includes in place (as nats-server reads it)."""
    text = NATS_CONF.read_text(encoding="utf-8")
    for name in re.findall(r'^include "([^"]+)"$', text, flags=re.M):
        text = text.replace(f'include "{name}"', (NATS_CONF.parent / name).read_text(encoding="utf-8"))
    return text


@pytest.fixture(scope="module")
def nats_conf() -> dict:
    return parse_nats_conf(nats_conf_text())


@pytest.fixture(scope="module")
def nats_users(nats_conf: dict) -> dict[str, dict]:
    """Every user of every account, by name, with its account."""
    users = {}
    for account, spec in nats_conf["accounts"].items():
        for u in spec.get("users", []):
            assert u["user"] not in users, f"user {u['user']} twice"
            users[u["user"]] = {**u, "account": account}
    return users


def _subject_matches(pattern: str, subject: str) -> bool:
    p, s = pattern.split("."), subject.split(".")
    for i, tok in enumerate(p):
        if tok == ">":
            return len(s) > i
        if i >= len(s) or (tok != "*" and tok != s[i]):
            return False
    return len(p) == len(s)


def _may(user: dict, direction: str, subject: str) -> bool:
    """Whether a user's permissions let it publish (or subscribe) to `subject`."""
    perms = user.get("permissions") or {}
    rule = perms.get(direction)
    if rule is None:
        return True  # no rule: everything
    allow, deny = (rule, []) if isinstance(rule, list) else (rule.get("allow", [">"]), rule.get("deny", []))
    return any(_subject_matches(a, subject) for a in allow) and not any(_subject_matches(d, subject) for d in deny)


# --- the file as a whole ----------------------------------------------------------------------------------

def test_the_vendored_schema_is_the_published_one() -> None:
    assert hashlib.sha256(SCHEMA.read_bytes()).hexdigest() == SCHEMA_SHA256


def test_is_valid_against_the_compose_specification(compose: dict) -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft201909Validator(schema)
    errors = sorted(validator.iter_errors(compose), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)


def test_the_schema_check_catches_mistakes(compose: dict) -> None:
    """A typo in a key must fail the check above, not pass silently."""
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    broken = json.loads(json.dumps(compose))
    broken["services"]["items"]["healthchek"] = broken["services"]["items"].pop("healthcheck")
    assert not jsonschema.Draft201909Validator(schema).is_valid(broken)


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


# --- references -------------------------------------------------------------------------------------------

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


def test_configs_are_declared_and_their_files_exist(compose: dict, services: dict) -> None:
    declared = compose.get("configs") or {}
    for name, spec in declared.items():
        assert (ROOT / spec["file"]).is_file(), f"config {name}: {spec['file']} does not exist"
    used = set()
    for name, s in services.items():
        for c in s.get("configs") or []:
            source = c["source"] if isinstance(c, dict) else c
            assert source in declared, f"{name} uses config {source}, not declared under configs:"
            used.add(source)
    assert used == set(declared), f"declared but unused: {set(declared) - used}"


def test_networks_are_declared_and_the_dashboard_cannot_reach_the_servers(compose: dict, services: dict) -> None:
    declared = set(compose.get("networks") or {})
    for name, s in services.items():
        assert _networks(s) <= declared, f"{name} uses undeclared networks {_networks(s) - declared}"
    servers = set().union(*(_networks(services[n]) for n in (*NATS_NODES, "temporal", "db", "temporal-db")))
    assert not _networks(services["dashboard"]) & servers, "the dashboard must not reach NATS, Temporal or a database"
    assert not _networks(services["proxy"]) & servers
    for name in REPLICATED:
        assert _networks(services[name]) & servers, name


def test_stateful_servers_keep_their_data_in_volumes(services: dict) -> None:
    for name, s in services.items():
        image = str(s.get("image", ""))
        if image.startswith(("postgres:", "nats:")):
            assert s.get("volumes"), f"{name} would lose its data with its container"


# --- health ----------------------------------------------------------------------------------------------

def test_every_long_running_container_has_a_healthcheck(services: dict) -> None:
    for name, s in _long_running(services).items():
        hc = s.get("healthcheck")
        assert hc and not hc.get("disable") and hc.get("test"), f"{name} has no healthcheck"


def test_one_shot_jobs_do_not_restart(services: dict) -> None:
    for name in _one_shot(services):
        assert services[name].get("restart", "no") == "no", f"{name} runs once; a restart policy would loop it"


def test_service_healthchecks_use_their_health_routes(services: dict) -> None:
    for name in SERVICES:
        port = _environment(services[name])[f"GONGKAI_{name.upper()}_PORT"]
        assert f"127.0.0.1:{port}/health" in " ".join(services[name]["healthcheck"]["test"]), name
    assert "/_stcore/health" in " ".join(services["dashboard"]["healthcheck"]["test"])
    for node in NATS_NODES:
        assert "/healthz" in " ".join(services[node]["healthcheck"]["test"]), node


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


# --- replicas and the proxy -------------------------------------------------------------------------------

def test_services_and_worker_run_replicated_without_host_ports(services: dict) -> None:
    for name in REPLICATED:
        replicas = (services[name].get("deploy") or {}).get("replicas")
        assert replicas is not None and int(replicas) >= 2, f"{name} runs {replicas or 1} replica(s)"
    for name, s in services.items():
        if int((s.get("deploy") or {}).get("replicas", 1)) > 1:
            assert not s.get("ports"), f"{name} has several replicas: they cannot share a host port"
            assert "container_name" not in s, name


def test_only_the_proxy_publishes_ports(services: dict) -> None:
    published = {name for name, s in services.items() if s.get("ports")}
    assert published == {"proxy"}
    assert services["proxy"]["image"].startswith("nginx:")


def _nginx() -> tuple[dict[str, str], dict[str, str]]:
    """nginx.conf's upstreams (name -> host:port) and its servers (listen port -> upstream)."""
    text = NGINX_CONF.read_text(encoding="utf-8")
    upstreams = {m.group(1): m.group(2) for m in
                 re.finditer(r"upstream\s+(\S+)\s*\{[^}]*?server\s+(\S+:\d+)\s+resolve;", text)}
    servers = {m.group(1): m.group(2) for m in
               re.finditer(r"listen\s+(\d+);\s*location\s+/\s*\{[^}]*?proxy_pass\s+http://([\w-]+);", text)}
    return upstreams, servers


def test_the_proxy_routes_each_published_port_to_its_service(compose: dict, services: dict) -> None:
    proxy = services["proxy"]
    assert _config_file(compose, proxy, "/etc/nginx/nginx.conf") == NGINX_CONF
    upstreams, servers = _nginx()
    wanted = {f"{n}": _environment(services[n])[f"GONGKAI_{n.upper()}_PORT"] for n in SERVICES}
    dash = services["dashboard"]["command"]
    wanted["dashboard"] = dash[dash.index("--server.port") + 1]
    published = {str(p).rsplit(":", 1)[-1]: str(p) for p in proxy["ports"]}
    for name, port in wanted.items():
        assert servers.get(port) == name, f"the proxy does not send port {port} to {name}"
        assert upstreams[name] == f"{name}:{port}", f"upstream {name} is {upstreams.get(name)}"
        assert _networks(services[name]) & _networks(proxy), f"the proxy cannot reach {name}"
        assert published[port].startswith("127.0.0.1:"), "publish on loopback; put TLS in front"
    assert "resolver 127.0.0.11" in NGINX_CONF.read_text(encoding="utf-8")  # follows replicas as they change


def test_internal_callers_of_the_reports_api_go_through_the_proxy(services: dict) -> None:
    _, servers = _nginx()
    for name in ("dashboard", "worker"):
        url = _environment(services[name])["GONGKAI_REPORTS_URL"]
        host, port = _host_port(url)
        assert host == "proxy" and servers[port] == "reports", f"{name}: {url}"
        assert _networks(services[name]) & _networks(services["proxy"]), name


# --- GONGKAI_* and secrets --------------------------------------------------------------------------------

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
        host, _ = _host_port(env["GONGKAI_TEMPORAL_ADDRESS"])
        assert host == "temporal", name
        for url in _nats_urls(env["GONGKAI_NATS_URL"]):
            assert _host_port(url)[0] in services, f"{name}: {url} is not a service of this file"
    for name in SERVICES:
        env = _environment(services[name])
        url = env["GONGKAI_DATABASE_URL"]
        assert url.startswith("postgresql+psycopg://"), name
        assert _host_port(url)[0] in services, name
        assert env["GONGKAI_STREAM_REPLICAS"] == "3", f"{name}: the stream must be kept on all three nodes"
    assert not any(k.startswith(("GONGKAI_NATS", "GONGKAI_DATABASE", "GONGKAI_JWT"))
                   for k in _environment(services["dashboard"]))


def test_each_process_connects_to_every_node_as_its_own_user(services: dict, nats_users: dict) -> None:
    for name, user in NATS_USERS.items():
        urls = _nats_urls(_environment(services[name])["GONGKAI_NATS_URL"])
        assert [_host_port(u) for u in urls] == [(n, "4222") for n in NATS_NODES], name
        for url in urls:
            login, password = URL_PASSWORD.search(url).groups()
            assert login == user and user in nats_users, f"{name} logs in as {login}"
            m = INTERPOLATION.fullmatch(password)
            assert m and m.group(1) == f"NATS_{user.upper()}_PASSWORD", f"{name}: password {password!r}"


def test_secrets_come_from_the_environment(text: str, services: dict) -> None:
    for name in SERVICES:
        key = _environment(services[name])["GONGKAI_JWT_KEY"]
        m = INTERPOLATION.fullmatch(key)
        assert m and m.group(2) == ":?", f"{name}: GONGKAI_JWT_KEY must be required from the environment, not set here"
    for s in services.values():
        for var, value in _environment(s).items():
            if "PASSWORD" in var or "PWD" in var:
                assert INTERPOLATION.fullmatch(value), f"{var} is written into compose.yaml"
    for login, password in URL_PASSWORD.findall(text):
        assert INTERPOLATION.fullmatch(password), f"a URL of {login} carries a written password"


def test_interpolated_variables_are_documented(text: str) -> None:
    deploy = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    for var in {m.group(1) for m in INTERPOLATION.finditer(text)}:
        assert var in deploy, f"{var} is used by compose.yaml but not explained in docs/deploy.md"


# --- the NATS cluster -------------------------------------------------------------------------------------

def test_three_nats_nodes_run_the_shipped_configuration(compose: dict, services: dict, nats_conf: dict) -> None:
    nodes = {n: s for n, s in services.items() if str(s.get("image", "")).startswith("nats:")}
    assert set(nodes) == set(NATS_NODES)
    assert len({s["image"] for s in nodes.values()}) == 1, "all nodes run one version"
    store = nats_conf["jetstream"]["store_dir"]
    volumes = set()
    for name, s in nodes.items():
        command = s["command"]
        target = command[command.index("--config") + 1]
        assert _config_file(compose, s, target) == NATS_CONF, name
        beside = str(Path(target).parent / "accounts.conf")  # where its `include "accounts.conf"` looks
        assert _config_file(compose, s, beside).resolve() == (NATS_CONF.parent / "accounts.conf").resolve(), name
        assert _environment(s)["NATS_SERVER_NAME"] == name
        mounts = {v.split(":")[1]: v.split(":")[0] for v in s["volumes"]}
        assert store in mounts, f"{name}: the JetStream store {store} is not on a volume"
        volumes.add(mounts[store])
    assert len(volumes) == 3, "each node needs a store of its own"
    assert nats_conf["server_name"] == Var("$NATS_SERVER_NAME")


def test_the_nats_cluster_lists_three_authenticated_routes(services: dict, nats_conf: dict) -> None:
    cluster = nats_conf["cluster"]
    routes = cluster["routes"]
    assert len(routes) == 3
    assert isinstance(cluster["authorization"]["password"], Var)
    assert all(isinstance(r, Var) for r in routes), "a route carries the password: it comes from the environment"
    port = str(cluster["port"])
    for node in NATS_NODES:
        env = _environment(services[node])
        urls = [env[r.removeprefix("$")] for r in routes]  # a route is a variable: it carries the password
        assert sorted(_host_port(u) for u in urls) == [(n, port) for n in NATS_NODES], node
        for url in urls:
            assert url.startswith("nats-route://")
            login, password = URL_PASSWORD.search(url).groups()
            assert login == cluster["authorization"]["user"]
            assert INTERPOLATION.fullmatch(password).group(1) == cluster["authorization"]["password"][1:]


def _variables(value) -> set[str]:
    """The $VARIABLES a parsed NATS configuration reads (quoted strings are never substituted)."""
    if isinstance(value, dict):
        return set().union(*map(_variables, value.values()))
    if isinstance(value, list):
        return set().union(*map(_variables, value))
    return {value[1:]} if isinstance(value, Var) else set()


def test_every_variable_of_the_nats_configuration_is_set_on_every_node(services: dict) -> None:
    variables = _variables(parse_nats_conf(nats_conf_text()))
    assert {"NATS_SERVER_NAME", "NATS_ROUTE_PASSWORD"} <= variables
    for node in NATS_NODES:
        missing = variables - set(_environment(services[node]))
        assert not missing, f"{node} lacks {sorted(missing)}: the server would not start"


def test_every_nats_user_has_permissions_and_a_password_from_the_environment(nats_users: dict) -> None:
    assert set(NATS_USERS.values()) | {"admin"} <= set(nats_users)
    for name, user in nats_users.items():
        perms = user.get("permissions") or {}
        assert perms.get("publish") and perms.get("subscribe"), f"{name} has no publish/subscribe permissions"
        assert isinstance(user["password"], Var), f"{name}'s password is written in the file"


def test_only_the_items_user_may_write_events(nats_users: dict) -> None:
    for name, user in nats_users.items():
        for subject in EVENT_SUBJECTS:
            may = _may(user, "publish", subject)
            assert may == (name == "items"), f"{name} {'may' if may else 'may not'} publish {subject}"
    accounts = {nats_users[u]["account"] for u in NATS_USERS.values()}
    assert accounts == {nats_users["admin"]["account"]}, "writer, readers and operators share the stream's account"


def test_nobody_deletes_or_purges_the_event_stream(nats_users: dict) -> None:
    for name, user in nats_users.items():
        for op in ("STREAM.DELETE", "STREAM.PURGE", "STREAM.MSG.DELETE"):
            subject = f"$JS.API.{op}.{subjects.STREAM}"
            assert not _may(user, "publish", subject), f"{name} may publish {subject}"


def test_only_the_items_user_and_operators_create_or_change_the_stream(nats_users: dict) -> None:
    for name, user in nats_users.items():
        for op in ("STREAM.CREATE", "STREAM.UPDATE"):
            may = _may(user, "publish", f"$JS.API.{op}.{subjects.STREAM}")
            assert may == (name in ("items", "admin")), f"{name}: {op}"


def test_the_readers_can_read_the_log(nats_users: dict) -> None:
    s = subjects.STREAM
    reads = [f"$JS.API.STREAM.INFO.{s}", f"$JS.API.STREAM.MSG.GET.{s}", f"$JS.API.DIRECT.GET.{s}",
             f"$JS.API.CONSUMER.CREATE.{s}", f"$JS.API.CONSUMER.CREATE.{s}.proj_x.gongkai.events.>",
             f"$JS.API.CONSUMER.INFO.{s}.proj_x", f"$JS.API.CONSUMER.MSG.NEXT.{s}.proj_x",
             f"$JS.API.CONSUMER.DELETE.{s}.proj_x", f"$JS.ACK.{s}.proj_x.1.2.3.4.5", f"$JS.FC.{s}.c.x"]
    for name in ("items", "reviews", "reports", "admin"):
        for subject in reads:
            assert _may(nats_users[name], "publish", subject), f"{name} may not publish {subject}"
        assert _may(nats_users[name], "subscribe", f"{inbox_of(name)}.abc.1"), name
    for subject in reads:
        assert not _may(nats_users["worker"], "publish", subject), f"the worker needs no {subject}"


def inbox_of(user: str) -> str:
    return natsauth.inbox_prefix(user) if user in SERVICE_USERS else "_INBOX"


SERVICE_USERS = ("items", "reviews", "reports", "worker")


def test_no_service_may_read_another_ones_replies(nats_users: dict) -> None:
    for name in SERVICE_USERS:
        for other in (*SERVICE_USERS, "admin"):
            assert _may(nats_users[name], "subscribe", f"{inbox_of(other)}.abc.1") == (other == name), (name, other)
        assert not _may(nats_users[name], "subscribe", ">"), name


def test_every_projecting_service_may_set_events_aside(nats_users: dict) -> None:
    """A projection's dead letters (gongkai/projection.py): whichever service meets one keeps it."""
    from gongkai import projection

    dead = projection.DEAD_STREAM
    subject = projection.DEAD_SUBJECTS.replace(">", "reports_totals_v8")
    for name in SERVICES:
        for s in (subject, f"$JS.API.STREAM.CREATE.{dead}", f"$JS.API.STREAM.INFO.{dead}",
                  f"$JS.API.STREAM.MSG.GET.{dead}"):
            assert _may(nats_users[name], "publish", s), f"{name} may not publish {s}"
    assert not _may(nats_users["worker"], "publish", subject)


def test_commands_are_sent_by_their_senders_and_answered_by_items(nats_users: dict) -> None:
    commands = {v for k, v in vars(subjects).items() if k.startswith("CMD_")}
    senders = {"worker": commands - {subjects.CMD_CLOSE_YEAR}, "reports": {subjects.CMD_CLOSE_YEAR}}
    for name, user in nats_users.items():
        for cmd in commands:
            assert _may(user, "publish", cmd) == (cmd in senders.get(name, set()) or name == "admin"), (name, cmd)
    items = nats_users["items"]
    assert all(_may(items, "subscribe", cmd) for cmd in commands)
    assert items["permissions"].get("allow_responses") is True  # it may answer the requests it receives
    assert not _may(items, "publish", "_INBOX.abc.1"), "items answers through allow_responses, not any inbox"


@pytest.mark.skipif(not NATS_SERVER.exists() and not shutil.which("nats-server"), reason="no nats-server")
def test_nats_server_accepts_the_configuration(services: dict, tmp_path: Path) -> None:
    binary = str(NATS_SERVER) if NATS_SERVER.exists() else shutil.which("nats-server")
    env = {k: (v if not INTERPOLATION.search(v) else INTERPOLATION.sub("x", v))
           for k, v in _environment(services["nats-1"]).items()}
    done = subprocess.run([binary, "-t", "-c", str(NATS_CONF)], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr


# --- Temporal ---------------------------------------------------------------------------------------------

def test_temporal_runs_on_postgresql_after_its_schema_job(compose: dict, services: dict) -> None:
    server, schema, namespace = services["temporal"], services["temporal-schema"], services["temporal-namespace"]
    version = server["image"].split(":", 1)[1]
    assert server["image"].startswith("temporalio/server:")
    for job in (schema, namespace):
        assert job["image"] == f"temporalio/admin-tools:{version}", "admin tools and server must be one version"
    env = _environment(server)
    assert env["DB"] == "postgres12" and services[env["POSTGRES_SEEDS"]]["image"].startswith("postgres:")
    assert _depends_on(server)["temporal-schema"] == "service_completed_successfully"
    assert _depends_on(namespace)["temporal"] == "service_healthy"
    script = _config_file(compose, schema, schema["entrypoint"][-1]).read_text(encoding="utf-8")
    assert "setup-schema" in script and "update-schema" in script
    for name in (*SERVICES, "worker"):
        assert _depends_on(services[name]).get("temporal-namespace") == "service_completed_successfully", name


def test_the_services_wait_for_all_three_nats_nodes(services: dict) -> None:
    for name in (*SERVICES, "worker"):
        deps = _depends_on(services[name])
        assert all(deps.get(n) == "service_healthy" for n in NATS_NODES), name
    for name in ("reviews", "reports"):  # only the items user may create the stream
        assert _depends_on(services[name]).get("items") == "service_healthy", name


# --- the image --------------------------------------------------------------------------------------------

def test_dockerfile_is_pinned_and_brings_the_postgres_driver() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    base = re.search(r"^FROM\s+(\S+)", text, re.M).group(1)
    assert base.startswith("python:3.11") and _image_is_pinned(base), base
    assert 'pip install ".[postgres]"' in text
    pyproject = (DOCKERFILE.parent / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'^postgres = \[.*psycopg\[binary\]', pyproject, re.M)


def test_the_proxy_does_not_publish_metrics() -> None:
    """Prometheus scrapes each replica on the internal network; the published ports answer /metrics with 404."""
    text = NGINX_CONF.read_text(encoding="utf-8")
    _, servers = _nginx()
    for port, upstream in servers.items():
        if upstream == "dashboard":
            continue
        block = re.search(rf"listen\s+{port};(.*?)\n  \}}", text, re.S)
        assert block and re.search(r"location\s*=\s*/metrics\s*\{\s*return 404;\s*\}", block.group(1)), upstream
