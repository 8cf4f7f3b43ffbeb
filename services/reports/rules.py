"""The arithmetic rules of the annual report (domain notes §2.7), checked on every generated report: hard rules
(T…) block submitting the report for review and name the cell; soft checks (X…) are warnings."""

from __future__ import annotations

from pydantic import BaseModel

from contracts.applications import TABLE4_KEYS, TABLE4_TOTAL_KEYS, ApplicantType, CaseKind, CaseResult, Outcome
from contracts.report_texts import COPY_PASTE_RATIO, similarity
from services.reports.report_data import ReportData

COLUMNS = [t.value for t in ApplicantType]
LEAVES = [o.value for o in Outcome]


class RuleResult(BaseModel):
    rule: str
    hard: bool
    ok: bool
    cell: str | None = None
    message: str = ""


def _fail(rule: str, cell: str, zh: str, en: str, *, hard: bool = True) -> RuleResult:
    return RuleResult(rule=rule, hard=hard, ok=False, cell=cell, message=f"{zh} / {en}")


def check(data: ReportData, previous: ReportData | None = None) -> list[RuleResult]:
    """Every rule, each once: passed ones as ok, failed ones with the cell that breaks them."""
    t = data.applications
    cell = lambda row, col: t.get(row, {}).get(col, 0)  # noqa: E731
    failures: dict[str, list[RuleResult]] = {r: [] for r in ("T3-1", "T3-2", "T3-3", "T3-4", "T4-1", "T4-2", "T4-3",
                                                              "T2-1", "X-1", "X-2", "X-3", "X-4", "X-6",
                                                              "X-9")}
    for col in [*COLUMNS, "total"]:
        lhs = cell("new_applications", col) + cell("carried_over_from_last_year", col)
        rhs = cell("results_total", col) + cell("carried_forward_to_next_year", col)
        if lhs != rhs:
            failures["T3-1"].append(_fail("T3-1", f"applications[*][{col}]",
                                          f"第一项加第二项（{lhs}）不等于第三项加第四项（{rhs}）",
                                          f"new + carried over ({lhs}) != results + carried forward ({rhs})"))
        leaves = sum(cell(leaf, col) for leaf in LEAVES)
        if cell("results_total", col) != leaves:
            failures["T3-2"].append(_fail("T3-2", f"applications[results_total][{col}]",
                                          f"（七）总计为{cell('results_total', col)}，各项之和为{leaves}",
                                          f"results_total {cell('results_total', col)} != sum of leaves {leaves}"))
    for row, cells in t.items():
        parts = sum(cells.get(c, 0) for c in COLUMNS)
        if cells.get("total", 0) != parts:
            failures["T3-3"].append(_fail("T3-3", f"applications[{row}][total]",
                                          f"总计为{cells.get('total', 0)}，各列之和为{parts}",
                                          f"total {cells.get('total', 0)} != sum of columns {parts}"))
        for col, value in cells.items():
            if not isinstance(value, int) or value < 0:
                failures["T3-4"].append(_fail("T3-4", f"applications[{row}][{col}]", "须为非负整数",
                                              f"must be an integer >= 0, is {value!r}"))
    for rule, kind in (("T4-1", CaseKind.ADMINISTRATIVE_REVIEW), ("T4-2", CaseKind.LITIGATION_DIRECT),
                       ("T4-3", CaseKind.LITIGATION_AFTER_REVIEW)):
        total_key = TABLE4_TOTAL_KEYS[kind]
        parts = sum(data.review_litigation.get(TABLE4_KEYS[(kind, r)], 0) for r in CaseResult)
        if data.review_litigation.get(total_key, 0) != parts:
            failures[rule].append(_fail(rule, f"review_litigation[{total_key}]",
                                        f"总计为{data.review_litigation.get(total_key, 0)}，各项之和为{parts}",
                                        f"{total_key} != sum of its parts {parts}"))
    s2 = data.section2
    counts = {**{f"rules.{k}": v for k, v in s2.rules.items()},
              **{f"normative_documents.{k}": v for k, v in s2.normative_documents.items()},
              "administrative_licensing": s2.administrative_licensing,
              "administrative_penalty": s2.administrative_penalty,
              "administrative_coercion": s2.administrative_coercion}
    for key, value in counts.items():
        if value is None:
            failures["X-6"].append(_fail("X-6", f"section2.{key}", "第二部分数据未填报（将按0填写）",
                                         "not recorded for the year (printed as 0)", hard=False))
        elif value < 0:
            failures["T2-1"].append(_fail("T2-1", f"section2.{key}", "须为非负整数", "must be >= 0"))
    if s2.fee_amount_wan_yuan is not None and (s2.fee_amount_wan_yuan < 0 or round(s2.fee_amount_wan_yuan, 4)
                                               != s2.fee_amount_wan_yuan):
        failures["T2-1"].append(_fail("T2-1", "section2.fee_amount_wan_yuan", "须为非负数，最多四位小数",
                                      "must be >= 0 with at most 4 decimals"))
    if s2.fee_amount_wan_yuan is not None and s2.fee_amount_wan_yuan >= 10000:
        failures["X-3"].append(_fail("X-3", "section2.fee_amount_wan_yuan",
                                     f"收费金额{s2.fee_amount_wan_yuan}万元，疑似按元填写", "looks entered in 元, not 万元",
                                     hard=False))
    if data.fees.charged_count or cell("other_fee_unpaid", "total"):
        text = "".join(data.narrative.values())
        if "信息处理费" not in text:
            failures["X-4"].append(_fail("X-4", "narrative.other_matters", "收取或未缴信息处理费的，应在报告中说明信息处理费情况",
                                         "fees were charged or unpaid: the text should mention 信息处理费", hard=False))
    if previous is not None:
        for kind in ("rules", "normative_documents"):
            now, last = getattr(s2, kind), getattr(previous.section2, kind)
            if None not in (now["currently_valid"], last["currently_valid"], now["issued_this_year"],
                            now["repealed_this_year"]):
                expected = last["currently_valid"] + now["issued_this_year"] - now["repealed_this_year"]
                if now["currently_valid"] != expected:
                    failures["X-2"].append(_fail(
                        "X-2", f"section2.{kind}.currently_valid",
                        f"现行有效{now['currently_valid']}件，按上年{last['currently_valid']}件加制发减废止应为{expected}件",
                        f"currently valid {now['currently_valid']}, expected about {expected}", hard=False))
        for section, text in data.narrative.items():
            ratio = similarity(text, previous.narrative.get(section, ""))
            if ratio >= COPY_PASTE_RATIO:
                failures["X-9"].append(_fail("X-9", f"narrative.{section}",
                                             f"与上一年度报告该部分相似度{ratio:.0%}，疑似照搬",
                                             f"{ratio:.0%} identical to last year's text", hard=False))
        last = previous.applications.get("carried_forward_to_next_year", {})
        now = t.get("carried_over_from_last_year", {})
        for col in [*COLUMNS, "total"]:
            if last.get(col, 0) != now.get(col, 0):
                failures["X-1"].append(_fail("X-1", f"applications[carried_over_from_last_year][{col}]",
                                             f"上年结转{now.get(col, 0)}，与上年报告结转下年度{last.get(col, 0)}不一致",
                                             "differs from last year's carried forward", hard=False))
    out = []
    for rule, found in failures.items():
        out.extend(found or [RuleResult(rule=rule, hard=rule.startswith("T"), ok=True)])
    return out


def blocking(results: list[RuleResult]) -> list[RuleResult]:
    return [r for r in results if r.hard and not r.ok]
