"""The page's sections, each drawn from the reports API's JSON (fetching is the caller's business)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import streamlit as st

from dashboard import views
from dashboard.client import NotProvided, ReportsUnavailable, history_url

DRILL_KEY = "drill"
NO_DRILL = "（选择一项数字查看明细）"


def _drill_to(label: str) -> None:
    st.session_state[DRILL_KEY] = label


def headline(t: dict, *, buttons: bool) -> None:
    figures = views.headline(t)
    for col, f in zip(st.columns(len(figures)), figures, strict=True):
        col.metric(f["label"], f["value"], f["delta"], delta_description=f.get("description"), border=True,
                   delta_color=f.get("colour", "normal"), delta_arrow=f.get("arrow", "auto"))
        if buttons:
            col.button("明细", key=f"drill-{f['key']}", icon=":material/search:", on_click=_drill_to, args=(f["label"],),
                       type="tertiary")


def compared_with(t: dict) -> None:
    as_of = (t.get("last_year_same_date") or {}).get("as_of")
    if as_of:
        st.caption(f"同比：与去年同期（{as_of[:4]} 年截至 {as_of[5:7].lstrip('0')} 月 {as_of[8:10].lstrip('0')} 日）比较；"
                   "申请待办为目前尚未办结的申请")


def categories(t: dict) -> None:
    p = t["proactive"]
    names = p.get("category_names", {})
    cols = st.columns(max(1, len(p["by_category"])))
    for col, (code, n) in zip(cols, p["by_category"].items(), strict=False):
        col.metric(names.get(code, code), views.num(n))


def charts(t: dict, today: date, *, big: bool = False) -> None:
    def show(chart) -> None:
        st.altair_chart(views.enlarge(chart) if big else chart)

    left, right = st.columns(2)
    with left, st.container(border=True):
        st.markdown("**主动公开信息 · 按类别**")
        show(views.category_chart(t))
    with right, st.container(border=True):
        st.markdown(f"**主动公开信息 · 按月（{t['year']}年与{t['year'] - 1}年）**")
        months = views.month_frame(t, today)
        if months is None:
            st.caption("统计服务未提供按月数据（by_month / last_year_by_month）")
        else:
            show(views.month_chart(months))
    left, right = st.columns(2)
    with left, st.container(border=True):
        st.markdown("**主动公开信息 · 按单位**")
        orgs = views.org_frame(t, t.get("org_names"))
        if orgs is None:
            st.caption("统计服务未提供按单位数据（by_org）")
        elif orgs.empty:
            st.caption("本年度尚无公开信息")
        else:
            show(views.org_chart(orgs))
    with right, st.container(border=True):
        apps = t.get("applications", {})
        st.markdown(f"**依申请公开 · 办理结果**（本年办结 {views.num(apps.get('results_total'))} 件）")
        show(views.outcome_chart(t))


def pipeline(p: dict) -> None:
    tasks, apps = p.get("tasks", []), p.get("applications", [])
    counts = views.stage_counts(tasks)
    overdue = sum(1 for t in tasks if t.get("overdue"))
    cols = st.columns(len(counts) + 1)
    for col, (stage, n) in zip(cols, counts.items(), strict=False):
        col.metric(stage, views.num(n), border=True)
    cols[-1].metric("审查逾期", views.num(overdue), border=True, delta="需督办" if overdue else None,
                    delta_color="inverse", delta_arrow="off")
    if tasks:
        df = views.tasks_frame(tasks, history_url)
        st.dataframe(views.red_overdue(df), hide_index=True, width="stretch",
                     column_config={"历史": st.column_config.LinkColumn("历史", display_text="查看"),
                                    "已等待(天)": st.column_config.NumberColumn(format="%.1f")})
    else:
        st.success("没有等待审查的事项")
    st.markdown("**依申请公开 · 法定答复期限**")
    lights = views.light_counts(apps)
    st.markdown("　".join(f":{views.LIGHT_MARKDOWN[k]}[{views.DOT} {views.LIGHT_NAMES[k]}] **{views.num(n)}**"
                         for k, n in lights.items()))
    if apps:
        st.dataframe(views.coloured_lights(views.applications_frame(apps, history_url)), hide_index=True, width="stretch",
                     column_config={"历史": st.column_config.LinkColumn("历史", display_text="查看")})


def report(status: dict, today: date) -> None:
    state = views.REPORT_STATES.get(status.get("state", ""), status.get("state", ""))
    left = views.days_left(status.get("publish_by"), today)
    due = status.get("publish_by") or "—"
    if status.get("state") == "published" or left is None:
        when = f"公开期限 {due}"
    elif left < 0:
        when = f"公开期限 {due}（:red[**已逾期 {-left} 天**]）"
    else:
        when = f"公开期限 {due}（还有 {left} 天）"
    st.markdown(f"**{status['year']} 年度报告**：{state} · {when}")
    if status.get("item_id"):
        st.markdown(f"[查看报告审查历史]({history_url('item', status['item_id'])})")
    rules = status.get("rules", [])
    failed = [r for r in rules if not r.get("ok")]
    hard = [r for r in failed if r.get("hard")]
    if not rules:
        st.caption("尚无表格校验结果")
        return
    summary = f"表格校验：{len(rules) - len(failed)} 项通过"
    if hard:
        st.error(f"{summary}，{len(hard)} 项强制规则未通过")
    elif failed:
        st.warning(f"{summary}，{len(failed)} 项提示")
    else:
        st.success(f"{summary}，全部通过")
    st.dataframe(views.coloured_rules(views.rules_frame(rules)), hide_index=True, width="stretch")


def drill(t: dict, explain: Callable[[str], dict], history: Callable[[str, str], dict] | None = None) -> None:
    """A figure's ids with links to their history; `explain(key)` returns `GET /totals/explain`."""
    options = views.drill_options(t)
    if st.session_state.get(DRILL_KEY) not in (NO_DRILL, *options, None):
        del st.session_state[DRILL_KEY]  # the figure is gone (another year or org)
    left, right = st.columns([1, 2])
    label = left.selectbox("查看明细", [NO_DRILL, *options], key=DRILL_KEY,
                           help="列出数字背后的信息或申请，点击编号查看其完整历史")
    if label == NO_DRILL:
        return
    try:
        got = explain(options[label])
    except (NotProvided, ReportsUnavailable, PermissionError) as e:
        right.info(f"无法展开「{label}」：{e}")
        return
    ids = got.get("ids", [])
    aggregate = got.get("aggregate", "")
    shown = ids[:200]
    lines = []
    for id_ in shown:
        url = history_url(aggregate, id_)
        lines.append(f"- [{id_}]({url})" if url else f"- {id_}")
    with right, st.container(border=True, height=240 if len(shown) > 6 else "content"):
        st.markdown(f"**{label}**：共 {views.num(len(ids))} {'条' if aggregate == 'item' else '件'}"
                    f"（{views.AGGREGATES.get(aggregate, aggregate)}）")
        if lines:
            st.markdown("\n".join(lines))
        if len(ids) > len(shown):
            st.caption(f"仅列出前 {len(shown)} 项")
    if shown and aggregate in ("item", "application") and history is not None:
        chosen = st.selectbox("查看完整历史", ["（选择编号）", *shown], key="history-id")
        if chosen != "（选择编号）":
            try:
                events = history(aggregate, chosen)["events"]
            except (NotProvided, ReportsUnavailable, PermissionError) as e:
                st.info(f"无法读取历史：{e}")
                return
            st.dataframe([{"时间": e["occurred_at"], "事件": e["type"], "操作人": e["by"],
                           "内容": ", ".join(f"{k}={v}" for k, v in e["details"].items() if v not in (None, [], ""))}
                          for e in events], hide_index=True, width="stretch")
