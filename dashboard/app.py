"""政府信息公开 dashboard: this year's totals, live. Reads only the reports service's API."""

from __future__ import annotations

import os
from datetime import datetime
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from dashboard.client import ReportsUnavailable, fetch_totals

st.set_page_config(page_title="政府信息公开 · 年度统计", layout="wide")

token = os.environ.get("GONGKAI_DASHBOARD_TOKEN") or st.session_state.get("token")
if not token:
    token = st.text_input("访问令牌 (token)", type="password")
    if not token:
        st.info("请输入访问令牌 / enter a bearer token")
        st.stop()
    st.session_state["token"] = token

this_year = datetime.now(ZoneInfo("Asia/Shanghai")).year
left, right = st.columns([1, 3])
year = left.number_input("年度", min_value=2000, max_value=2100, value=this_year, step=1)
org = right.text_input("单位代码（留空为全部）", value=os.environ.get("GONGKAI_DASHBOARD_ORG", ""))

st.title(f"{year} 年政府信息公开工作")


@st.fragment(run_every="1s")
def live_totals() -> None:
    try:
        t = fetch_totals(token, int(year), org or None)
    except ReportsUnavailable:
        st.warning("统计服务暂不可用，正在自动重试… / the reports service is unavailable; retrying")
        return
    except PermissionError as e:
        st.error(f"无权查看：{e}")
        return
    p = t["proactive"]
    names = p.get("category_names", {})
    cols = st.columns(4)
    cols[0].metric("主动公开信息", f"{p['total']:,} 条")
    cols[1].metric("政策解读", f"{t['interpretations']:,} 条")
    cols[2].metric("回应社会关切", f"{t['responses']:,} 条")
    cols[3].metric("审查中", f"{t['in_review']:,} 条")
    st.subheader("主动公开信息（按类别）")
    cat_cols = st.columns(3)
    for i, (code, n) in enumerate(p["by_category"].items()):
        cat_cols[i % 3].metric(names.get(code, code), f"{n:,}")
    df = pd.DataFrame({"类别": [names.get(c, c) for c in p["by_category"]], "条数": list(p["by_category"].values())})
    st.bar_chart(df, x="类别", y="条数")
    st.caption(f"事件日志位置 {t['position']:,} · 每秒自动刷新")


live_totals()
