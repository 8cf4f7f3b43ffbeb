"""The pre-2019 layout of the seed (淄博市张店区机关事务服务中心 2018年政府信息公开工作年度报告): an unnumbered
preface and 13 sections with the seed's exact headings, no tables.

Numbers are written into sentences in the seed's phrasing, always exact (the seed's "150余条" for exactly
150 is one of the defects this layout does not repeat), and the preface's count of parts is computed from
the sections (the seed says 十二 for 13). Sections 一、二、四、十一、十二 and 十三 are the office's narrative
texts (`data.narrative`, keys below); a missing text shows the placeholder （待填写）, except 十三, which
defaults to the seed's "暂无需要说明的事项".
"""

from __future__ import annotations

from contracts.applications import (
    CASE_KIND_LABEL_ZH,
    CASE_RESULT_LABEL_ZH,
    OUTCOME_GROUP,
    TABLE4_COLUMNS,
    TABLE4_KEYS,
    TABLE4_TOTAL_KEYS,
    CaseKind,
    CaseResult,
    Outcome,
    OutcomeGroup,
)
from services.reports.layouts import (
    REGULATION,
    cell,
    contact_sentence,
    download_sentence,
    narrative,
    period_zh,
    signature,
    title,
)
from services.reports.layouts.render import Document, Paragraph, Section, zh_number
from services.reports.report_data import ReportData

# narrative keys (data.narrative)
OVERVIEW = "overview"  # 一、概述
ORGANIZATION = "organization"  # 二、信息公开的组织领导和制度建设情况
KEY_AREAS = "key_areas"  # 四、重点领域政府信息公开工作推进情况
AFFILIATED_UNITS = "affiliated_units"  # 十一、所属事业单位信息公开推进措施和落实情况
PROBLEMS_IMPROVEMENTS = "problems_improvements"  # 十二、政府信息公开工作存在的问题及改进情况
NOTES = "notes"  # 十三、需要说明的事项与附表
#: optional: local rules cited after the Regulation in the preface, e.g. "《山东省政府信息公开办法》"
LOCAL_RULES = "local_rules"

NARRATIVE_KEYS: tuple[str, ...] = (OVERVIEW, ORGANIZATION, KEY_AREAS, AFFILIATED_UNITS, PROBLEMS_IMPROVEMENTS, NOTES,
                                   LOCAL_RULES)

#: the seed's headings, in order (numbers are added from the position)
HEADINGS: tuple[str, ...] = (
    "概述",
    "信息公开的组织领导和制度建设情况",
    "发布解读、回应社会关切以及互动交流情况",
    "重点领域政府信息公开工作推进情况",
    "主动公开政府信息以及公开平台建设情况",
    "政府信息公开申请的办理情况",
    "政府信息公开的收费及减免情况",
    "因政府信息公开申请提起行政复议、行政诉讼的情况",
    "政府信息公开保密审查及监督检查情况",
    "人大的代表建议和政协委员提案办理情况",
    "所属事业单位信息公开推进措施和落实情况",
    "政府信息公开工作存在的问题及改进情况",
    "需要说明的事项与附表",
)

#: how a block of outcomes is named in a sentence
_OUTCOME_GROUP_ZH: dict[OutcomeGroup, str] = {
    OutcomeGroup.GRANTED: "予以公开",
    OutcomeGroup.PARTIALLY_GRANTED: "部分公开",
    OutcomeGroup.DENIED: "不予公开",
    OutcomeGroup.UNABLE: "无法提供",
    OutcomeGroup.NOT_PROCESSED: "不予处理",
    OutcomeGroup.OTHER: "其他处理",
}


def build(data: ReportData) -> Document:
    sections = (
        narrative(data, OVERVIEW),
        narrative(data, ORGANIZATION),
        (Paragraph(_interpretations(data)),),
        narrative(data, KEY_AREAS),
        _proactive(data),
        (Paragraph(_applications(data)),),
        (Paragraph(_fees(data)),),
        (Paragraph(_cases(data)),),
        (Paragraph(_review_chain(data)),),
        (Paragraph(_proposals(data)),),
        narrative(data, AFFILIATED_UNITS),
        narrative(data, PROBLEMS_IMPROVEMENTS),
        narrative(data, NOTES, default=f"{data.org_name}暂无需要说明的事项。"),
    )
    return Document(
        title=title(data),
        preface=(_preface(data),),
        sections=tuple(Section(h, blocks) for h, blocks in zip(HEADINGS, sections, strict=True)),
        signature=signature(data),
    )


def _preface(data: ReportData) -> Paragraph:
    y, local = data.year, data.narrative.get(LOCAL_RULES, "").strip()
    return Paragraph(
        f"本报告由{data.org_name}根据{REGULATION}（以下简称《条例》）{local}规定和有关文件要求，结合工作实际，"
        f"编制了{y}年度政府信息公开工作年度报告，现予以发布。"
        f"报告全文共由{zh_number(len(HEADINGS))}部分组成，所列数据的统计期限是{period_zh(y)}。"
        + download_sentence(data.contact)
        + contact_sentence(data.org_name, data.contact)
    )


def _interpretations(data: ReportData) -> str:
    p = data.proactive
    head = f"截至{data.year}年12月31日，本单位共发布解读{p.interpretations}条，"
    if p.responses:
        return head + f"回应社会关切{p.responses}条。"
    return head + "无回应社会关切及互动交流的信息公开内容。"


def _proactive(data: ReportData) -> tuple[Paragraph, ...]:
    """The exact total, then every category of the catalogue in its order, zeros included (the catalogue is
    fixed, so a missing category would read as forgotten). As in the seed, the first category carries 类."""
    p, y = data.proactive, data.year
    text = (f"按照《条例》规定，坚持“公开为原则，不公开为例外”的原则，{data.org_name}通过政府门户网站积极做好主动公开工作。"
            f"自{y}年1月1日至{y}年12月31日，本单位通过政府门户网站共累计主动公开信息{p.total}条。")
    parts = []
    for n, (code, k) in enumerate(p.by_category.items()):
        name = p.category_names.get(code, code)
        if n == 0 and not name.endswith("类"):
            name += "类"
        parts.append(f"{name}{k}条")
    if parts:
        text += "其中" + "，".join(parts) + "。"
    return (Paragraph(text),)


def _outcomes(data: ReportData) -> str:
    """The year's closed applications by block, the blocks with none left out: "（予以公开2件，部分公开1件）"."""
    by_group = dict.fromkeys(OutcomeGroup, 0)
    for o in Outcome:
        by_group[OUTCOME_GROUP[o]] += cell(data.applications, o.value)
    parts = [f"{_OUTCOME_GROUP_ZH[g]}{n}件" for g, n in by_group.items() if n]
    return "（" + "，".join(parts) + "）" if parts else ""


def _applications(data: ReportData) -> str:
    t, y, org = data.applications, data.year, data.org_name
    new, carried_over = cell(t, "new_applications"), cell(t, "carried_over_from_last_year")
    done, carried_forward = cell(t, "results_total"), cell(t, "carried_forward_to_next_year")
    if new == 0:
        text = f"{y}年，{org}未收到任何信息公开申请。"
        if carried_over:
            text += (f"上年结转的{carried_over}件申请，本年度办结{done}件{_outcomes(data)}，"
                     f"结转下年度继续办理{carried_forward}件。")
        return text
    return (f"{y}年，{org}共收到政府信息公开申请{new}件，上年结转{carried_over}件；"
            f"本年度办结{done}件{_outcomes(data)}；结转下年度继续办理{carried_forward}件。")


def _fees(data: ReportData) -> str:
    f = data.fees
    if not (f.charged_yuan or f.charged_count):
        return f"{data.year}年度政府信息公开未收取相关费用。"
    return f"{data.year}年度政府信息公开共收取信息处理费{f.charged_yuan}元（{f.charged_count}件）。"


def _case_detail(data: ReportData, kind: CaseKind) -> str:
    rl = data.review_litigation
    parts = [f"{CASE_RESULT_LABEL_ZH[r]}{rl.get(TABLE4_KEYS[kind, r], 0)}件" for r in CaseResult
             if rl.get(TABLE4_KEYS[kind, r], 0)]
    return f"{rl.get(TABLE4_TOTAL_KEYS[kind], 0)}件" + ("（" + "，".join(parts) + "）" if parts else "")


def _cases(data: ReportData) -> str:
    rl = data.review_litigation
    if not any(rl.get(k, 0) for k in TABLE4_COLUMNS):
        return f"{data.year}年，未发生因政府信息公开而被提起行政复议或行政诉讼的情况。"
    direct, after = CaseKind.LITIGATION_DIRECT, CaseKind.LITIGATION_AFTER_REVIEW
    litigation = rl.get(TABLE4_TOTAL_KEYS[direct], 0) + rl.get(TABLE4_TOTAL_KEYS[after], 0)
    return (f"{data.year}年，{data.org_name}因政府信息公开被提起行政复议"
            f"{_case_detail(data, CaseKind.ADMINISTRATIVE_REVIEW)}；被提起行政诉讼{litigation}件，其中"
            f"{CASE_KIND_LABEL_ZH[direct]}{_case_detail(data, direct)}，"
            f"{CASE_KIND_LABEL_ZH[after]}{_case_detail(data, after)}。")


def _review_chain(data: ReportData) -> str:
    """The seed's text; it describes the chain the system enforces (contracts/chain.py)."""
    return (f"{data.org_name}信息保密审查严格遵循“谁公布谁审查、谁审查谁负责”和“先审查后公开”的原则。"
            "政府信息公开前都必须进行保密审查，具体审查工作由信息员负责初审，科室负责人复核后确定发布与否或者答复当事人。"
            "科室负责人认为该信息无法准确把握是否公开，报本单位分管领导批示，当不能确定是否可以公开时，报同级保密部门。")


def _proposals(data: ReportData) -> str:
    npc, cppcc = data.proposals.get("npc_suggestion", {}), data.proposals.get("cppcc_proposal", {})
    if not any((*npc.values(), *cppcc.values())):
        return f"{data.year}年，{data.org_name}未收到人大代表建议和政协委员提案。"
    return (f"{data.year}年，{data.org_name}共收到人大代表建议{npc.get('received', 0)}件、"
            f"政协委员提案{cppcc.get('received', 0)}件，本年度办复人大代表建议{npc.get('answered', 0)}件、"
            f"政协委员提案{cppcc.get('answered', 0)}件。")
