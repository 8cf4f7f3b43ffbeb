"""The dashboard page, run headless by Streamlit's AppTest against the running reports service."""

import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

import dashboard
from tests.servers import free_port

APP = str(Path(dashboard.__file__).parent / "app.py")
YEAR = datetime.now(ZoneInfo("Asia/Shanghai")).year


@pytest.fixture
def page(monkeypatch, stack, people):
    monkeypatch.setenv("GONGKAI_REPORTS_URL", stack.url("reports"))
    monkeypatch.setenv("GONGKAI_ITEMS_URL", stack.url("items"))
    monkeypatch.setenv("GONGKAI_DASHBOARD_TOKEN", stack.token("leader.view", people.org, "viewer"))
    monkeypatch.setenv("GONGKAI_DASHBOARD_ORG", people.org)
    st.cache_data.clear()
    return AppTest.from_file(APP, default_timeout=20)


def run(at: AppTest) -> AppTest:
    st.cache_data.clear()  # process-global: what the previous run fetched must not hide what changed since
    at.run()
    assert not at.exception, at.exception
    return at


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def texts(at: AppTest) -> str:
    return "\n".join([*(m.value for m in at.markdown), *(s.value for s in at.subheader), *(c.value for c in at.caption),
                      *(e.value for kind in (at.success, at.error, at.warning, at.info) for e in kind)])


def publish(api, people, category: str = "meetings") -> dict:
    item = api.create(people.author, category)
    api.submit(people.author, item["id"])
    api.decide(people.officer, item["id"], "initial")
    api.decide(people.head, item["id"], "recheck")
    api.totals_after(people.viewer, api.item(people.author, item["id"])["version"], org=people.org)
    return item


def test_the_page_shows_this_years_totals_and_a_published_item_moves_them(page, api, people):
    run(page)
    assert metric(page, "主动公开信息") == "0 条" and metric(page, "会议") == "0"
    assert "暂不可用" not in texts(page)

    publish(api, people, "meetings")

    run(page)
    assert metric(page, "主动公开信息") == "1 条" and metric(page, "会议") == "1"


def test_the_pipeline_shows_a_submitted_item_at_the_initial_review(page, api, people):
    item = api.create(people.author, "plans")
    assert api.submit(people.author, item["id"]).status_code == 202
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the reports service learns of the submission from the log
        r = api.http.get(api.reports("/pipeline"), headers=people.viewer, params={"org": people.org})
        assert r.status_code == 200, r.text
        if any(t["id"] == item["id"] for t in r.json()["tasks"]):
            break
        time.sleep(0.05)

    run(page)
    assert metric(page, "初审") == "1" and metric(page, "复核") == "0"
    table = next(df.value for df in page.dataframe if "环节" in df.value.columns)
    row = table[table["编号"] == item["id"]]
    assert list(row["环节"]) == ["初审"] and list(row["标题"]) == ["测试信息"]
    assert list(row["历史"]) == [f"{api.stack.url('items')}/items/{item['id']}"]


def test_the_annual_report_section_shows_last_years_and_this_years_report(page):
    run(page)
    assert any("年度报告" in s.value for s in page.subheader)
    shown = texts(page)
    for year in (YEAR - 1, YEAR):
        assert f"{year} 年度报告" in shown, shown
    assert "状态暂不可用" not in shown
    assert any(word in shown for word in ("未开始", "已生成", "审查中", "已发布"))
    assert "公开期限" in shown and "表格校验" in shown
    rules = [df.value for df in page.dataframe if "规则" in df.value.columns]
    assert rules and set(rules[0]["结果"]) <= {"✔ 通过", "✘ 未通过", "⚠ 提示"} and "T3-1" in set(rules[0]["规则"])


def test_another_year_can_be_chosen(page):
    run(page)
    page.number_input(key="year").set_value(YEAR - 1)
    run(page)
    assert any(f"{YEAR - 1} 年政府信息公开工作" in t.value for t in page.title)
    assert metric(page, "主动公开信息") == "0 条" and f"{YEAR - 2} 年度报告" in texts(page)


def test_drill_down_lists_the_id_of_a_published_item_with_a_link_to_its_history(page, api, people):
    item = publish(api, people, "meetings")
    run(page)
    page.selectbox(key="drill").set_value("主动公开信息")
    run(page)
    shown = texts(page)
    assert f"[{item['id']}]({api.stack.url('items')}/items/{item['id']})" in shown, shown
    assert "共 1 条" in shown

    page.selectbox(key="drill").set_value("主动公开 · 会议")
    run(page)
    assert item["id"] in texts(page)

    page.selectbox(key="history-id").set_value(item["id"])  # the history, read from the reports service
    run(page)
    events = next(df.value for df in page.dataframe if "事件" in df.value.columns)
    assert list(events["事件"]) == ["item.drafted", "item.submitted", "review.decided", "review.decided",
                                  "item.published"]


def test_when_the_reports_service_is_down_the_page_says_so(monkeypatch, page):
    monkeypatch.setenv("GONGKAI_REPORTS_URL", f"http://127.0.0.1:{free_port()}")
    run(page)
    assert any("暂不可用" in w.value for w in page.warning)
    assert not page.metric


def test_the_page_recovers_by_itself_when_the_service_is_back(monkeypatch, page, stack):
    monkeypatch.setenv("GONGKAI_REPORTS_URL", f"http://127.0.0.1:{free_port()}")
    run(page)
    assert any("暂不可用" in w.value for w in page.warning)
    monkeypatch.setenv("GONGKAI_REPORTS_URL", stack.url("reports"))
    run(page)
    assert not any("暂不可用" in w.value for w in page.warning) and metric(page, "主动公开信息") == "0 条"


def test_the_wall_display_mode_enlarges_the_figures_and_drops_the_buttons(page):
    run(page)
    assert any(b.label == "明细" for b in page.button)
    page.toggle[0].set_value(True)
    run(page)
    assert metric(page, "主动公开信息") == "0 条" and not any(b.label == "明细" for b in page.button)
    assert any("stMetricValue" in h.proto.body for h in page.get("html"))


def test_a_department_viewer_can_choose_only_its_own_org(monkeypatch, page, stack, people):
    monkeypatch.setenv("GONGKAI_DASHBOARD_TOKEN", stack.token("wang.qiang", people.org, "section_head"))
    monkeypatch.delenv("GONGKAI_DASHBOARD_ORG")
    run(page)
    assert page.selectbox(key="org").options == [people.org]
    assert metric(page, "主动公开信息") == "0 条"


def test_without_a_token_the_page_asks_for_one(monkeypatch, page):
    monkeypatch.delenv("GONGKAI_DASHBOARD_TOKEN")
    run(page)
    assert page.text_input and not page.metric
