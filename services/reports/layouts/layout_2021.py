"""The national layout of 《中华人民共和国政府信息公开工作年度报告格式》 (国办公开办函〔2021〕30号), for reports
on 2021 onwards: six sections with the short national headings, the four Art. 20 blocks of section 二, table
三 (收到和处理政府信息公开申请情况) and table 四 (政府信息公开行政复议、行政诉讼情况) with the official
merged headers.

Every cell prints a number: a value the data lacks (None, or a missing key) prints 0, as the format has no
blank cells (X-6); flagging it is the rules' job, not the layout's. Sections 一、五、六 are the office's
narrative texts (keys below) with the placeholder （待填写）; section 六 also states the 信息处理费 collected.
"""

from __future__ import annotations

from itertools import groupby

from contracts.applications import (
    CASE_KIND_HEADER_ZH,
    CASE_KIND_LABEL_ZH,
    CASE_RESULT_LABEL_ZH,
    TABLE3_COLUMN_HEADER_ZH,
    TABLE3_COLUMNS,
    TABLE3_NOTE_ZH,
    TABLE3_ROWS,
    TABLE4_COLUMNS,
    CaseKind,
    CaseResult,
)
from services.reports.layouts import (
    REGULATION,
    cell,
    contact_sentence,
    count,
    download_sentence,
    narrative,
    period_zh,
    signature,
    title,
)
from services.reports.layouts.render import BodyRow, Document, HeaderCell, Paragraph, Section, Table, zh_number
from services.reports.report_data import ReportData

# narrative keys (data.narrative)
OVERALL = "overall"  # 一、总体情况
PROBLEMS_IMPROVEMENTS = "problems_improvements"  # 五、存在的主要问题及改进情况
OTHER_MATTERS = "other_matters"  # 六、其他需要报告的事项

NARRATIVE_KEYS: tuple[str, ...] = (OVERALL, PROBLEMS_IMPROVEMENTS, OTHER_MATTERS)

HEADINGS: tuple[str, ...] = (
    "总体情况",
    "主动公开政府信息情况",
    "收到和处理政府信息公开申请情况",
    "政府信息公开行政复议、行政诉讼情况",
    "存在的主要问题及改进情况",
    "其他需要报告的事项",
)

FORMAT_NAME = "《中华人民共和国政府信息公开工作年度报告格式》（国办公开办函〔2021〕30号）"
FEE_MEASURES = "《政府信息公开信息处理费管理办法》（国办函〔2020〕109号）"

ART20_CONTENT = "信息内容"
ART20_DECISIONS = "本年处理决定数量"
ART20_FEE_AMOUNT = "本年收费金额（单位：万元）"
ART20_RULE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("issued_this_year", "本年制发件数"),
    ("repealed_this_year", "本年废止件数"),
    ("currently_valid", "现行有效件数"),
)
TABLE4_TOTAL_ZH = "总计"


def build(data: ReportData) -> Document:
    sections = (
        narrative(data, OVERALL),
        art20_tables(data),
        (table3(data),),
        (table4(data),),
        narrative(data, PROBLEMS_IMPROVEMENTS),
        (Paragraph(_fees(data)), *narrative(data, OTHER_MATTERS)),
    )
    return Document(
        title=title(data),
        preface=(_preface(data),),
        sections=tuple(Section(h, blocks) for h, blocks in zip(HEADINGS, sections, strict=True)),
        signature=signature(data),
    )


def _preface(data: ReportData) -> Paragraph:
    return Paragraph(
        f"本报告由{data.org_name}根据{REGULATION}（以下简称《条例》）和{FORMAT_NAME}要求编制，现予以发布。"
        f"报告全文共由{zh_number(len(HEADINGS))}部分组成，所列数据的统计期限是{period_zh(data.year)}。"
        + download_sentence(data.contact)
        + contact_sentence(data.org_name, data.contact)
    )


def _fees(data: ReportData) -> str:
    f = data.fees
    if not (f.charged_yuan or f.charged_count):
        return f"{data.year}年度，{data.org_name}未收取信息处理费。"
    return (f"{data.year}年度，{data.org_name}依据{FEE_MEASURES}收取信息处理费{f.charged_yuan}元"
            f"（{f.charged_count}件）。")


# ---------------------------------------------------------------------------------------------------------
# 二、主动公开政府信息情况: the four blocks of Art. 20 (1), (5), (6), (8)
# ---------------------------------------------------------------------------------------------------------


def _block_header(item: str, columns: tuple[str, ...]) -> tuple[tuple[HeaderCell, ...], ...]:
    return (
        (HeaderCell(f"第二十条第（{item}）项", colspan=1 + len(columns)),),
        (HeaderCell(ART20_CONTENT), *(HeaderCell(c) for c in columns)),
    )


def art20_tables(data: ReportData) -> tuple[Table, ...]:
    s2 = data.section2
    rules = Table(
        header=_block_header("一", tuple(label for _, label in ART20_RULE_COLUMNS)),
        body=tuple(
            BodyRow((label,), tuple(count(values.get(key)) for key, _ in ART20_RULE_COLUMNS))
            for label, values in (("规章", s2.rules), ("行政规范性文件", s2.normative_documents))
        ),
    )
    licensing = Table(header=_block_header("五", (ART20_DECISIONS,)),
                      body=(BodyRow(("行政许可",), (count(s2.administrative_licensing),)),))
    penalty = Table(header=_block_header("六", (ART20_DECISIONS,)),
                    body=(BodyRow(("行政处罚",), (count(s2.administrative_penalty),)),
                          BodyRow(("行政强制",), (count(s2.administrative_coercion),))))
    fees = Table(header=_block_header("八", (ART20_FEE_AMOUNT,)),
                 body=(BodyRow(("行政事业性收费",), (count(s2.fee_amount_wan_yuan),)),))
    return rules, licensing, penalty, fees


# ---------------------------------------------------------------------------------------------------------
# 三、收到和处理政府信息公开申请情况
# ---------------------------------------------------------------------------------------------------------


def table3_header() -> tuple[tuple[HeaderCell, ...], ...]:
    """Three header rows: the note (top-left, over the label column) and 申请人情况 over the seven columns;
    then 自然人, 法人或其他组织 over its five columns, 总计; then the five organisation types."""
    top = (HeaderCell(TABLE3_NOTE_ZH, rowspan=3), HeaderCell(TABLE3_COLUMN_HEADER_ZH, colspan=len(TABLE3_COLUMNS)))
    middle: list[HeaderCell] = []
    bottom: list[HeaderCell] = []
    for group, grouped in groupby(TABLE3_COLUMNS, key=lambda c: c.group):
        columns = list(grouped)
        if group is None:
            middle += [HeaderCell(c.label, rowspan=2) for c in columns]
        else:
            middle.append(HeaderCell(group, colspan=len(columns)))
            bottom += [HeaderCell(c.label) for c in columns]
    return top, tuple(middle), tuple(bottom)


def table3(data: ReportData) -> Table:
    """All rows of TABLE3_ROWS; the group rows carry their label only."""
    body = tuple(
        BodyRow((row.label,), tuple(count(cell(data.applications, row.key, c.key)) for c in TABLE3_COLUMNS)
                if row.has_cells else (), level=row.level)
        for row in TABLE3_ROWS
    )
    return Table(header=table3_header(), body=body)


# ---------------------------------------------------------------------------------------------------------
# 四、政府信息公开行政复议、行政诉讼情况
# ---------------------------------------------------------------------------------------------------------


def table4_header() -> tuple[tuple[HeaderCell, ...], ...]:
    """行政复议 (5 columns, over two rows) | 行政诉讼 (10) split into 未经复议直接起诉 (5) and 复议后起诉 (5);
    then 结果维持 | 结果纠正 | 其他结果 | 尚未审结 | 总计 under each."""
    per_kind = len(CaseResult) + 1
    top: list[HeaderCell] = []
    middle: list[HeaderCell] = []
    for header, grouped in groupby(CaseKind, key=lambda k: CASE_KIND_HEADER_ZH[k]):
        kinds = list(grouped)
        if len(kinds) == 1 and CASE_KIND_LABEL_ZH[kinds[0]] == header:
            top.append(HeaderCell(header, colspan=per_kind, rowspan=2))
        else:
            top.append(HeaderCell(header, colspan=per_kind * len(kinds)))
            middle += [HeaderCell(CASE_KIND_LABEL_ZH[k], colspan=per_kind) for k in kinds]
    bottom = tuple(HeaderCell(label) for _ in CaseKind
                   for label in (*(CASE_RESULT_LABEL_ZH[r] for r in CaseResult), TABLE4_TOTAL_ZH))
    return tuple(top), tuple(middle), bottom


def table4(data: ReportData) -> Table:
    """One row of 15 cells, in the header's order (TABLE4_COLUMNS)."""
    return Table(header=table4_header(),
                 body=(BodyRow((), tuple(count(data.review_litigation.get(k)) for k in TABLE4_COLUMNS)),))
