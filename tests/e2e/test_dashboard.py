"""The dashboard page, run headless by Streamlit's AppTest against the running reports service."""

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

import dashboard
from tests.servers import free_port

APP = str(Path(dashboard.__file__).parent / "app.py")


@pytest.fixture
def page(monkeypatch, stack, people):
    monkeypatch.setenv("GONGKAI_REPORTS_URL", stack.url("reports"))
    monkeypatch.setenv("GONGKAI_DASHBOARD_TOKEN", stack.token("leader.view", people.org, "viewer"))
    monkeypatch.setenv("GONGKAI_DASHBOARD_ORG", people.org)
    st.cache_data.clear()
    return AppTest.from_file(APP, default_timeout=20)


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_the_page_shows_this_years_totals_and_a_published_item_moves_them(page, api, people):
    page.run()
    assert not page.exception
    assert metric(page, "主动公开信息") == "0 条" and metric(page, "会议") == "0"

    item = api.create(people.author, "meetings")
    api.submit(people.author, item["id"])
    api.decide(people.officer, item["id"], "initial")
    api.decide(people.head, item["id"], "recheck")
    api.totals_after(people.viewer, api.item(people.author, item["id"])["version"], org=people.org)

    page.run()
    assert metric(page, "主动公开信息") == "1 条" and metric(page, "会议") == "1"


def test_when_the_reports_service_is_down_the_page_says_so(monkeypatch, page):
    monkeypatch.setenv("GONGKAI_REPORTS_URL", f"http://127.0.0.1:{free_port()}")
    page.run()
    assert not page.exception
    assert any("暂不可用" in w.value for w in page.warning)


def test_without_a_token_the_page_asks_for_one(monkeypatch, page):
    monkeypatch.delenv("GONGKAI_DASHBOARD_TOKEN")
    page.run()
    assert not page.exception and page.text_input and not page.metric
