"""Crash tests under load. The full versions are marked `slow` and run only when asked for: `-m slow` or
`GONGKAI_SLOW=1`; the short versions run with the rest of the suite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_configure(config):
    # pyproject.toml registers the marker too; registering it twice is harmless and keeps this directory
    # usable on its own
    config.addinivalue_line("markers", "slow: long-running tests (crash and load)")


def _environ_at_start() -> dict[str, str]:
    """The process's environment as it was started: tests/conftest.py removes every GONGKAI_ variable it does
    not know from os.environ before this file is read (Linux keeps the original in /proc)."""
    try:
        raw = Path("/proc/self/environ").read_bytes()
    except OSError:
        return {}
    return dict(kv.split("=", 1) for kv in raw.decode(errors="ignore").split("\0") if "=" in kv)


def _slow_wanted(config) -> bool:
    env = os.environ.get("GONGKAI_SLOW") or _environ_at_start().get("GONGKAI_SLOW")
    return env == "1" or "slow" in (config.getoption("markexpr", "") or "")


def pytest_collection_modifyitems(config, items):
    if _slow_wanted(config):
        return
    skip = pytest.mark.skip(reason="slow: run with -m slow or GONGKAI_SLOW=1")
    for item in items:
        if HERE in Path(item.path).parents and item.get_closest_marker("slow"):
            item.add_marker(skip)
