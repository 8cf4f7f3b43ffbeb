"""What the page shows, computed from the reports API's JSON: labels, numbers as offices write them, tables and
Altair charts. Pure functions (no Streamlit, no HTTP), so they can be checked on their own."""

from __future__ import annotations

from datetime import date

import altair as alt
import pandas as pd

#: the review chain's stages, in order (contracts.chain.Stage), with the dashboard's short names
STAGES: dict[str, str] = {"initial": "初审", "recheck": "复核", "leader": "分管领导", "secrecy": "保密部门"}
PURPOSES: dict[str, str] = {"publish": "发布", "retract": "撤回", "validity": "效力变更", "answer": "申请答复",
                            "section2": "年报数据"}
AGGREGATES: dict[str, str] = {"item": "信息", "application": "申请", "record": "年报记录", "case": "复议诉讼"}
#: marks drawn from fonts every system has (DejaVu, the CJK fonts): emoji would be boxes on a kiosk without an
#: emoji font; the colour comes from the table's style and Streamlit's :color[] markdown
DOT = "●"
LIGHTS: dict[str, str] = {"red": "#c0392b", "amber": "#e67e22", "green": "#27ae60", "grey": "#95a5a6"}
LIGHT_MARKDOWN: dict[str, str] = {"red": "red", "amber": "orange", "green": "green", "grey": "gray"}
PASS, FAIL, WARN = "✔ 通过", "✘ 未通过", "⚠ 提示"
LIGHT_NAMES: dict[str, str] = {"red": "已逾期", "amber": "临近期限", "green": "期限内", "grey": "已办结"}
REPORT_STATES: dict[str, str] = {"not_started": "未开始", "generated": "已生成", "in_review": "审查中",
                                 "published": "已发布"}
#: table 三's result blocks; an outcome code belongs to the block it starts with (contracts.applications)
OUTCOME_GROUPS: dict[str, str] = {"granted": "予以公开", "partially_granted": "部分公开", "denied": "不予公开",
                                  "unable": "无法提供", "not_processed": "不予处理", "other": "其他处理"}
try:  # the leaf names of table 三, shared with the report (labels only: the figures come from the API)
    from contracts.applications import OUTCOME_LABEL_ZH as OUTCOME_NAMES
except ImportError:  # pragma: no cover - a dashboard installed on its own shows the codes
    OUTCOME_NAMES = {}
MONTHS = [f"{m}月" for m in range(1, 13)]


def num(n: int | float | None) -> str:
    """1234567 → "1,234,567" (— when unknown)."""
    if n is None:
        return "—"
    return f"{n:,}" if isinstance(n, int) else f"{n:,.1f}"


def delta(now: int | None, before: int | None) -> int | None:
    """The change against the same date last year, as st.metric's delta (None: nothing to compare)."""
    if now is None or before is None:
        return None
    return now - before


def delta_text(d: int | None) -> str | int | None:
    """A signed delta with thousands separators ("+1,204", "-3"); 0 stays the number 0, which st.metric greys."""
    if d is None or d == 0:
        return d
    return f"{d:+,}"


def outcome_group(code: str) -> str:
    for prefix in sorted(OUTCOME_GROUPS, key=len, reverse=True):
        if code == prefix or code.startswith(f"{prefix}_"):
            return OUTCOME_GROUPS[prefix]
    return "其他处理"


def headline(t: dict) -> list[dict]:
    """The headline figures with their change against the same date last year and their drill-down key."""
    apps = t.get("applications", {})
    last = t.get("last_year_same_date") or {}
    rows = [
        ("主动公开信息", t["proactive"]["total"], last.get("proactive"), "条", "proactive.total"),
        ("政策解读", t.get("interpretations"), last.get("interpretations"), "条", "interpretations"),
        ("回应社会关切", t.get("responses"), last.get("responses"), "条", "responses"),
        ("申请收到", apps.get("new"), last.get("applications_new"), "件", "applications.table3.new_applications.total"),
        ("申请办结", apps.get("results_total"), last.get("applications_answered"), "件",
         "applications.table3.results_total.total"),
        ("申请待办", apps.get("carried_forward"), None, "件", "applications.table3.carried_forward_to_next_year.total"),
    ]
    out = []
    for label, value, before, unit, key in rows:
        d = delta(value, before)
        out.append({"label": label, "value": f"{num(value)} {unit}", "delta": delta_text(d), "key": key,
                    "description": "较去年同期" if d is not None else None})
    overdue = apps.get("overdue") or 0  # 待办 has no "last year": it shows how many are past their legal date
    out[-1].update(delta=f"其中逾期 {num(overdue)} 件", arrow="off", colour="red" if overdue else "off")
    return out


def drill_options(t: dict) -> dict[str, str]:
    """Label → `GET /totals/explain` key, for every figure the page shows."""
    names = t["proactive"].get("category_names", {})
    opts = {h["label"]: h["key"] for h in headline(t)}
    for code in t["proactive"].get("by_category", {}):
        opts[f"主动公开 · {names.get(code, code)}"] = f"proactive.by_category.{code}"
    for code, n in t.get("applications", {}).get("results", {}).items():
        if n:
            opts[f"办理结果 · {outcome_group(code)} · {OUTCOME_NAMES.get(code, code)}"] = f"applications.table3.{code}.total"
    for key, label in (("review_total", "行政复议"), ("lit_direct_total", "行政诉讼（未经复议）"),
                       ("lit_after_review_total", "行政诉讼（复议后）")):
        if key in t.get("cases", {}):
            opts[f"{label} · 总计"] = f"cases.{key}"
    return opts


# --- charts -------------------------------------------------------------------------------------------------------

def _bars(df: pd.DataFrame, y: str, x: str, color: str = "#c0392b") -> alt.Chart:
    height = max(140, 34 * len(df))
    base = alt.Chart(df).encode(y=alt.Y(f"{y}:N", sort="-x", title=None),
                                x=alt.X(f"{x}:Q", title=None, axis=alt.Axis(format=",d", tickMinStep=1)),
                                tooltip=[alt.Tooltip(f"{y}:N"), alt.Tooltip(f"{x}:Q", format=",d")])
    text = base.mark_text(align="left", dx=3).encode(text=alt.Text(f"{x}:Q", format=",d"))
    return (base.mark_bar(color=color) + text).properties(height=height)


def enlarge(chart: alt.TopLevelMixin) -> alt.TopLevelMixin:
    """The chart for a wall display: labels readable from across the room."""
    return (chart.configure_axis(labelFontSize=18, titleFontSize=18).configure_legend(labelFontSize=18)
            .configure_text(fontSize=18))


def category_frame(t: dict) -> pd.DataFrame:
    p = t["proactive"]
    names = p.get("category_names", {})
    return pd.DataFrame({"类别": [names.get(c, c) for c in p["by_category"]],
                         "条数": [int(n) for n in p["by_category"].values()]})


def category_chart(t: dict) -> alt.Chart:
    return _bars(category_frame(t), "类别", "条数")


def month_frame(t: dict, today: date) -> pd.DataFrame | None:
    this, last = t["proactive"].get("by_month"), t.get("last_year_by_month")
    if this is None or last is None:
        return None
    year = t["year"]
    rows = []
    for m in range(1, 13):
        if year < today.year or (year == today.year and m <= today.month):  # no line into the future
            rows.append({"月份": MONTHS[m - 1], "年度": f"{year}年", "条数": int(this.get(str(m), 0))})
        rows.append({"月份": MONTHS[m - 1], "年度": f"{year - 1}年", "条数": int(last.get(str(m), 0))})
    return pd.DataFrame(rows)


def month_chart(df: pd.DataFrame) -> alt.Chart:
    years = sorted(df["年度"].unique(), reverse=True)
    return alt.Chart(df).mark_line(point=True).encode(
        x=alt.X("月份:N", sort=MONTHS, title=None, axis=alt.Axis(labelAngle=0)),
        y=alt.Y("条数:Q", title=None, axis=alt.Axis(format=",d", tickMinStep=1)),
        color=alt.Color("年度:N", sort=years, scale=alt.Scale(range=["#c0392b", "#95a5a6"]),
                        legend=alt.Legend(orient="top", title=None, symbolType="stroke", symbolStrokeWidth=3)),
        strokeDash=alt.StrokeDash("年度:N", sort=years, legend=None),
        tooltip=["年度:N", "月份:N", alt.Tooltip("条数:Q", format=",d")]).properties(height=260)


def org_frame(t: dict, names: dict[str, str] | None = None) -> pd.DataFrame | None:
    by_org = t.get("by_org")
    if by_org is None:
        return None
    names = names or {}
    return pd.DataFrame({"单位": [names.get(o, o) for o in by_org], "条数": [int(n) for n in by_org.values()]})


def org_chart(df: pd.DataFrame) -> alt.Chart:
    return _bars(df, "单位", "条数", color="#2c3e50")


def outcome_frame(t: dict) -> pd.DataFrame:
    totals: dict[str, int] = dict.fromkeys(OUTCOME_GROUPS.values(), 0)
    for code, n in t.get("applications", {}).get("results", {}).items():
        totals[outcome_group(code)] += int(n)
    return pd.DataFrame({"办理结果": list(totals), "件数": list(totals.values())})


def outcome_chart(t: dict) -> alt.Chart:
    df = outcome_frame(t)
    return alt.Chart(df).mark_bar(color="#2980b9").encode(
        x=alt.X("办理结果:N", sort=list(OUTCOME_GROUPS.values()), title=None, axis=alt.Axis(labelAngle=0)),
        y=alt.Y("件数:Q", title=None, axis=alt.Axis(format=",d", tickMinStep=1)),
        tooltip=["办理结果:N", alt.Tooltip("件数:Q", format=",d")]).properties(height=240)


# --- the pipeline -------------------------------------------------------------------------------------------------

def stage_counts(tasks: list[dict]) -> dict[str, int]:
    counts = dict.fromkeys(STAGES.values(), 0)
    for task in tasks:
        label = STAGES.get(task.get("stage", ""), task.get("stage_name") or task.get("stage") or "其他")
        counts[label] = counts.get(label, 0) + 1
    return counts


def _day(value: str | None) -> str:
    return (value or "")[:10] or "—"


def tasks_frame(tasks: list[dict], link) -> pd.DataFrame:
    """The waiting tasks as the API orders them (overdue first); `link(aggregate, id)` gives the history URL."""
    return pd.DataFrame([{
        "逾期": f"{DOT} 逾期" if t.get("overdue") else "",
        "类型": AGGREGATES.get(t.get("aggregate", ""), t.get("aggregate", "")),
        "标题": t.get("title", ""),
        "环节": STAGES.get(t.get("stage", ""), t.get("stage_name") or t.get("stage", "")),
        "事项": PURPOSES.get(t.get("purpose") or "", t.get("purpose") or ""),
        "已等待(天)": t.get("age_days"),
        "期限": _day(t.get("due_on") or t.get("due_at")),
        "编号": t.get("id", ""),
        "历史": link(t.get("aggregate", ""), t.get("id", "")),
    } for t in tasks], columns=["逾期", "类型", "标题", "环节", "事项", "已等待(天)", "期限", "编号", "历史"])


def red_overdue(df: pd.DataFrame):
    """The table with its overdue rows in red (a pandas Styler, which st.dataframe renders)."""
    def row_style(row: pd.Series) -> list[str]:
        red = bool(row["逾期"])
        return [f"color: {LIGHTS['red']}; font-weight: bold" if red else "" for _ in row]
    return df.style.apply(row_style, axis=1)


def applications_frame(apps: list[dict], link) -> pd.DataFrame:
    return pd.DataFrame([{
        "灯": DOT,
        "状态": LIGHT_NAMES.get(a.get("light", ""), a.get("status", "")),
        "申请内容": a.get("subject") or "",
        "收到日期": _day(a.get("received_on")),
        "答复期限": _day(a.get("due_on")),
        "剩余工作日": a.get("working_days_left"),
        "编号": a.get("id", ""),
        "历史": link("application", a.get("id", "")),
    } for a in apps], columns=["灯", "状态", "申请内容", "收到日期", "答复期限", "剩余工作日", "编号", "历史"])


def coloured_lights(df: pd.DataFrame):
    """The applications with their light in its colour."""
    colours = {name: LIGHTS[k] for k, name in LIGHT_NAMES.items()}
    return df.style.apply(lambda col: [f"color: {colours.get(s, LIGHTS['grey'])}; font-size: 1.2em" for s in df["状态"]],
                          subset=["灯"])


def light_counts(apps: list[dict]) -> dict[str, int]:
    counts = dict.fromkeys(LIGHTS, 0)
    for a in apps:
        counts[a.get("light", "grey") if a.get("light") in LIGHTS else "grey"] += 1
    return counts


# --- the annual report --------------------------------------------------------------------------------------------

def rules_frame(rules: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([{
        "结果": PASS if r.get("ok") else (FAIL if r.get("hard") else WARN),
        "规则": r.get("rule", ""),
        "类型": "强制" if r.get("hard") else "提示",
        "单元格": r.get("cell") or "",
        "说明": r.get("message") or "",
    } for r in sorted(rules, key=lambda r: (bool(r.get("ok")), not r.get("hard")))],  # failures first
        columns=["结果", "规则", "类型", "单元格", "说明"])


def coloured_rules(df: pd.DataFrame):
    colours = {PASS: LIGHTS["green"], FAIL: LIGHTS["red"], WARN: LIGHTS["amber"]}
    return df.style.apply(lambda col: [f"color: {colours.get(v, '')}; font-weight: bold" for v in col], subset=["结果"])


def days_left(due: str | None, today: date) -> int | None:
    try:
        return (date.fromisoformat((due or "")[:10]) - today).days
    except ValueError:
        return None
