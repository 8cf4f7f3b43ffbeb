"""政府信息公开 · 领导驾驶舱: the year so far, the review pipeline, deadlines and the annual report, live.

Reads only the reports service's API (dashboard/client.py). One fragment refreshes everything once a second
through caches that live half a second, so a newly published item shows within two seconds without a reload.
"""

from __future__ import annotations

import contextlib
import os
from datetime import datetime
from zoneinfo import ZoneInfo

import streamlit as st

from dashboard import client, sections
from dashboard.client import NotProvided, ReportsUnavailable

SHANGHAI = ZoneInfo("Asia/Shanghai")
#: roles that see every org (a city- or district-level viewer); the reports service enforces the same
ALL_ORGS_ROLES = {"viewer", "leader", "office"}
TTL = 0.5  # seconds: short enough for "within 2 s", long enough to share one fetch between viewers

st.set_page_config(page_title="政府信息公开 · 领导驾驶舱", page_icon="📊", layout="wide")


@st.cache_data(ttl=TTL, show_spinner=False)
def totals(token: str, year: int, org: str | None) -> dict:
    return client.fetch_totals(token, year, org)


@st.cache_data(ttl=TTL, show_spinner=False)
def pipeline(token: str, org: str | None) -> dict:
    return client.fetch_pipeline(token, org)


@st.cache_data(ttl=TTL, show_spinner=False)
def report_status(token: str, year: int, org: str | None) -> dict:
    return client.fetch_report_status(token, year, org)


@st.cache_data(ttl=TTL, show_spinner=False)
def explain(token: str, year: int, org: str | None, key: str) -> dict:
    return client.fetch_explain(token, year, key, org)


@st.cache_data(ttl=TTL, show_spinner=False)
def history(token: str, aggregate: str, id_: str) -> dict:
    return client.fetch_history(token, aggregate, id_)


# --- who is looking -----------------------------------------------------------------------------------------------
token = os.environ.get("GONGKAI_DASHBOARD_TOKEN") or st.session_state.get("token")
if not token:
    st.title("政府信息公开 · 领导驾驶舱")
    token = st.text_input("访问令牌 (token)", type="password", help="由公开办公室签发：gongkai token --role viewer …")
    if not token:
        st.info("请输入访问令牌 / enter a bearer token")
        st.stop()
    st.session_state["token"] = token.strip()
    token = st.session_state["token"]
claims = client.token_claims(token)
city_level = bool(ALL_ORGS_ROLES & set(claims.get("roles", [])))

# --- what to look at ----------------------------------------------------------------------------------------------
today = datetime.now(SHANGHAI).date()
with st.sidebar:
    st.header("筛选")
    year = int(st.number_input("年度", min_value=2000, max_value=2100, value=today.year, step=1, key="year"))
    default_org = os.environ.get("GONGKAI_DASHBOARD_ORG", "")
    orgs = {default_org, claims.get("org", "")}
    if city_level:
        with contextlib.suppress(ReportsUnavailable, PermissionError, NotProvided):  # the page below says why
            orgs |= set(totals(token, year, None).get("by_org") or {})
        options = ["", *sorted(o for o in orgs if o)]
    else:  # a department viewer sees its own org
        options = [claims.get("org") or default_org]
    org = st.selectbox("单位", options, index=options.index(default_org) if default_org in options else 0,
                       format_func=lambda o: o or "全部单位", key="org")
    big = st.toggle("大屏模式", help="放大数字，适合会议室大屏")
    st.divider()
    who = claims.get("sub") or claims.get("user")
    if who:
        st.caption(f"当前用户：{who}（{claims.get('org', '')} · {'、'.join(claims.get('roles', []))}）")
    from_page = st.session_state.get("token") and not os.environ.get("GONGKAI_DASHBOARD_TOKEN")
    if from_page and st.button("更换令牌"):
        del st.session_state["token"]
        st.rerun()

st.html("<style>[data-testid='stAppDeployButton'] { display: none; }</style>")
if big:
    st.html("""<style>
      [data-testid="stMetricValue"] { font-size: 3.6rem; line-height: 1.1; }
      [data-testid="stMetricLabel"] p { font-size: 1.5rem; }
      [data-testid="stMetricDelta"] { font-size: 1.3rem; }
      h1 { font-size: 3rem !important; }
    </style>""")

st.title(f"{year} 年政府信息公开工作" + (f" · {org}" if org else ""))


@st.fragment(run_every="1s")
def live(year: int, org: str | None) -> None:
    try:
        t = totals(token, year, org)
    except ReportsUnavailable as e:
        st.session_state["down"] = True
        st.warning(f"统计服务暂不可用，正在自动重试… / the reports service is unavailable; retrying ({e})")
        return
    except PermissionError as e:
        st.error(f"无权查看：{e}")
        return
    if st.session_state.pop("down", False):
        st.rerun()  # back: redraw the whole page (the org list too)

    today = datetime.now(SHANGHAI).date()  # a wall display runs past midnight
    sections.headline(t, buttons=not big)
    sections.compared_with(t)
    sections.drill(t, lambda key: explain(token, year, org, key), lambda agg, id_: history(token, agg, id_))
    st.subheader("主动公开信息（按类别）")
    sections.categories(t)
    sections.charts(t, today, big=big)

    st.subheader("审查流程 · 待办")
    try:
        sections.pipeline(pipeline(token, org))
    except (ReportsUnavailable, NotProvided, PermissionError) as e:
        st.info(f"审查流程暂不可用：{e}")

    st.subheader("政府信息公开工作年度报告")
    for col, y in zip(st.columns(2), (year - 1, year), strict=True):
        with col, st.container(border=True):
            try:
                sections.report(report_status(token, y, org), today)
            except (ReportsUnavailable, NotProvided, PermissionError) as e:
                st.info(f"{y} 年度报告状态暂不可用：{e}")

    now = datetime.now(SHANGHAI).strftime("%H:%M:%S")
    st.caption(f"数据截至事件位置 {t['position']:,} · 每秒自动刷新 · 更新于 {now}")


live(year, org or None)
