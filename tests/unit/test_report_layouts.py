"""The annual report's layouts and renderers on fixed data: the seed's 2018 figures in the 2018 layout, and a
2023 data set with applications, cases, proposals and fees in the national 2021 layout.

Golden files: tests/golden/report-2018.md, report-2021.md, report-2021.html are compared exactly.
To rewrite them after an intended change: GONGKAI_UPDATE_GOLDEN=1 pytest tests/unit/test_report_layouts.py
"""

from __future__ import annotations

import gc
import io
import json
import os
import re
import weakref
from datetime import date
from pathlib import Path

import docx
import pytest
from docx.oxml.ns import qn

from contracts.applications import TABLE3_NOTE_ZH, TABLE3_ROWS, TABLE4_COLUMNS
from contracts.items import DEFAULT_CATEGORIES
from services.reports.layouts import PLACEHOLDER, layout_2018, layout_2021
from services.reports.layouts.render import (
    BodyRow,
    HeaderCell,
    Table,
    build,
    render,
    to_docx,
    to_html,
    to_markdown,
    zh_number,
)
from services.reports.report_data import AnnualReportDocument, Contact, Fees, Proactive, ReportData, Section2

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
UPDATE_VAR = "GONGKAI_UPDATE_GOLDEN"


def _update_golden() -> bool:
    """tests/conftest.py removes every GONGKAI_* variable from os.environ when it is imported, before this
    module runs; so the variable is also looked up in the environment the process started with."""
    if os.environ.get(UPDATE_VAR) == "1":
        return True
    try:
        initial = Path("/proc/self/environ").read_bytes().split(b"\0")
    except OSError:
        return False
    return f"{UPDATE_VAR}=1".encode() in initial


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if _update_golden():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} is missing; run with {UPDATE_VAR}=1 to write it"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from its golden file ({UPDATE_VAR}=1 rewrites it)"


# ---------------------------------------------------------------------------------------------------------
# Fixed data
# ---------------------------------------------------------------------------------------------------------

ZHANGDIAN = "淄博市张店区机关事务服务中心"
SEED_CONTACT = Contact(
    address="张店区新村西路226号区政务中心张店区机关事务服务中心办公室", postcode="255000", phone="0533-2869928",
    fax="0533-2869928", email="zdqjgswgljbg@zb.shandong.cn", person="张斌", website="张店区政府门户网站")
SEED_COUNTS = dict(zip(DEFAULT_CATEGORIES, [4, 28, 7, 1, 1, 6, 65, 8, 30], strict=True))


def data_2018() -> ReportData:
    """The seed's figures and texts (its narrative sections, abridged)."""
    return ReportData(
        year=2018, org="zhangdian-jgsw", org_name=ZHANGDIAN, contact=SEED_CONTACT,
        proactive=Proactive(total=150, by_category=SEED_COUNTS, category_names=DEFAULT_CATEGORIES, interpretations=3),
        narrative={
            layout_2018.LOCAL_RULES: "《山东省政府信息公开办法》",
            layout_2018.OVERVIEW: "在区政府信息公开领导小组的领导下，区机关事务服务中心严格落实省、市、区政府信息公开工作的"
                                  "总体安排、相关规定和要求。截至2018年底，全中心政府信息公开工作运行正常，全年无重大信息安全责任事故。",
            layout_2018.ORGANIZATION: "（一）健全工作机制。我中心始终将政府信息公开工作作为一项基础性、重要性工作来抓。\n"
                                      "（二）强化制度建设。2018年，我中心对政务信息管理、门户网站管理、政务信息公开等工作事项进行了规范整理。\n"
                                      "\n"
                                      "（三）加大公开力度。我中心依托门户网站和政务微博，积极推进政府信息公开。",
            layout_2018.KEY_AREAS: "根据我中心工作职责，对照重点领域政府信息内容，"
                                   "对涉及我中心公共机构节能等政府信息公开重点工作认真梳理，逐条细化。",
            layout_2018.AFFILIATED_UNITS: "张店区机关事务服务中心高度重视对所属事业单位信息公开的推进力度。",
            layout_2018.PROBLEMS_IMPROVEMENTS: "2018年，机关事务服务中心政府信息公开工作虽然取得一定成效，"
                                               "但仍存在部分信息公开内容不够及时等方面的不足。"
                                               "2019年，将从以下几方面进行改进：\n"
                                               "（一）提高信息规范化质量。\n（二）全面落实公开内容。\n（三）进一步保障网站内容。",
        },
        signed_on=date(2019, 3, 26),
    )


def _row(**by_column: int) -> dict[str, int]:
    row = {c: 0 for c in ("natural_person", "commercial_enterprise", "research_institution", "public_welfare_org",
                          "legal_service_org", "other_org")}
    row.update(by_column)
    row["total"] = sum(row.values())
    return row


def applications_2023() -> dict[str, dict[str, int]]:
    """A table 三 that balances (T3-1…T3-3): 6 new + 1 carried over = 6 closed + 1 carried forward."""
    table = {r.key: _row() for r in TABLE3_ROWS if r.has_cells}
    table |= {
        "new_applications": _row(natural_person=4, commercial_enterprise=1, legal_service_org=1),
        "carried_over_from_last_year": _row(natural_person=1),
        "granted": _row(natural_person=2, legal_service_org=1),
        "partially_granted": _row(commercial_enterprise=1),
        "unable_not_held": _row(natural_person=1),
        "other_no_correction": _row(natural_person=1),
        "results_total": _row(natural_person=4, commercial_enterprise=1, legal_service_org=1),
        "carried_forward_to_next_year": _row(natural_person=1),
    }
    return table


def cases_2023() -> dict[str, int]:
    cells = dict.fromkeys(TABLE4_COLUMNS, 0)
    cells |= {"review_upheld": 1, "review_pending": 1, "review_total": 2, "lit_direct_corrected": 1, "lit_direct_total": 1}
    return cells


def data_2021() -> ReportData:
    return ReportData(
        year=2023, org="zhangdian-jgsw", org_name=ZHANGDIAN,
        contact=Contact(phone="0533-2869928", email="zdqjgswgljbg@zb.shandong.cn", website="张店区政府门户网站"),
        proactive=Proactive(total=120, interpretations=4, responses=2),
        applications=applications_2023(),
        review_litigation=cases_2023(),
        proposals={"npc_suggestion": {"received": 2, "answered": 2}, "cppcc_proposal": {"received": 1, "answered": 1}},
        fees=Fees(charged_count=1, charged_yuan=200),
        section2=Section2(
            rules=dict.fromkeys(["issued_this_year", "repealed_this_year", "currently_valid"]),  # not recorded → 0
            normative_documents={"issued_this_year": 2, "repealed_this_year": 1, "currently_valid": 15},
            administrative_licensing=12, administrative_penalty=3, administrative_coercion=0, fee_amount_wan_yuan=1.25),
        narrative={
            layout_2021.OVERALL: "2023年，本中心认真贯彻落实《条例》，扎实做好政府信息公开工作。\n"
                                 "（一）主动公开。全年主动公开政府信息120条，发布政策解读4条，回应社会关切2条。\n"
                                 "（二）依申请公开。全年新收政府信息公开申请6件，均在法定期限内答复。",
            layout_2021.PROBLEMS_IMPROVEMENTS: "信息公开的及时性有待提高。下一步将健全发布前保密审查的时限管理。",
            # other_matters left out: the placeholder shows
        },
        signed_on=date(2024, 1, 20),
    )


# ---------------------------------------------------------------------------------------------------------
# The 2018 layout
# ---------------------------------------------------------------------------------------------------------


def test_2018_markdown_matches_golden_and_fixes_the_seeds_defects():
    md = render(data_2018(), "2018", "md").decode()
    check_golden("report-2018.md", md)
    for phrase in ("报告全文共由十三部分组成", "共累计主动公开信息150条", "其中机构职能类4条，法规公文28条", "发布解读3条",
                   "未收到任何信息公开申请", "未收取相关费用", "未发生因政府信息公开而被提起行政复议或行政诉讼的情况",
                   "未收到人大代表建议和政协委员提案", "暂无需要说明的事项", "《山东省政府信息公开办法》规定",
                   "所列数据的统计期限是2018年1月1日至2018年12月31日", "本报告电子版可在张店区政府门户网站上下载",
                   "邮编：255000", "联系人：张斌", "“谁公布谁审查、谁审查谁负责”", "2019年3月26日"):
        assert phrase in md, phrase
    assert "余" not in md
    assert "部门新闻30条。" in md and PLACEHOLDER not in md


def test_2018_sections_are_the_seeds_thirteen_headings():
    doc = layout_2018.build(data_2018())
    assert doc.numbered_headings() == [
        "一、概述", "二、信息公开的组织领导和制度建设情况", "三、发布解读、回应社会关切以及互动交流情况",
        "四、重点领域政府信息公开工作推进情况", "五、主动公开政府信息以及公开平台建设情况", "六、政府信息公开申请的办理情况",
        "七、政府信息公开的收费及减免情况", "八、因政府信息公开申请提起行政复议、行政诉讼的情况",
        "九、政府信息公开保密审查及监督检查情况", "十、人大的代表建议和政协委员提案办理情况",
        "十一、所属事业单位信息公开推进措施和落实情况", "十二、政府信息公开工作存在的问题及改进情况",
        "十三、需要说明的事项与附表"]
    assert [p.text[:2] for p in doc.sections[1].blocks] == ["（一", "（二", "（三"]  # one paragraph a line
    assert doc.signature == (ZHANGDIAN, "2019年3月26日")


def test_2018_sentences_with_activity():
    data = data_2021().model_copy(update={"year": 2023, "narrative": {}, "signed_on": None})
    data.proactive = Proactive(total=5, by_category={"a": 5, "b": 0}, category_names={"a": "机构职能类", "b": "会议"},
                               interpretations=1, responses=2)
    md = to_markdown(layout_2018.build(data))
    assert "共发布解读1条，回应社会关切2条。" in md
    assert "共累计主动公开信息5条。其中机构职能类5条，会议0条。" in md  # a zero category is listed; 类 not doubled
    assert f"2023年，{ZHANGDIAN}共收到政府信息公开申请6件，上年结转1件；本年度办结6件（予以公开3件，部分公开1件，" \
           "无法提供1件，其他处理1件）；结转下年度继续办理1件。" in md
    assert "2023年度政府信息公开共收取信息处理费200元（1件）。" in md
    assert f"2023年，{ZHANGDIAN}因政府信息公开被提起行政复议2件（结果维持1件，尚未审结1件）；被提起行政诉讼1件，" \
           "其中未经复议直接起诉1件（结果纠正1件），复议后起诉0件。" in md
    assert f"2023年，{ZHANGDIAN}共收到人大代表建议2件、政协委员提案1件，本年度办复人大代表建议2件、政协委员提案1件。" in md
    # narrative sections not written show the placeholder, so does the missing date; 十三 has its default
    assert md.count(PLACEHOLDER) == 6
    assert f"{ZHANGDIAN}暂无需要说明的事项。" in md


def test_2018_no_new_applications_but_some_carried_over():
    data = data_2018()
    data.applications = {"carried_over_from_last_year": {"total": 2}, "granted": {"total": 2},
                         "results_total": {"total": 2}}
    md = to_markdown(layout_2018.build(data))
    assert f"2018年，{ZHANGDIAN}未收到任何信息公开申请。上年结转的2件申请，本年度办结2件（予以公开2件），" \
           "结转下年度继续办理0件。" in md


def test_preface_leaves_out_what_is_not_configured():
    data = ReportData(year=2020, org="x", org_name="某局", contact=Contact(phone="123"))
    preface = layout_2018.build(data).preface[0].text
    assert "下载" not in preface and "联系人" not in preface
    assert preface.endswith("如对本报告有任何疑问，请与某局联系（电话：123）。")
    assert "规定和有关文件要求" in preface and "）规定" in preface  # no local rules cited


# ---------------------------------------------------------------------------------------------------------
# The 2021 layout
# ---------------------------------------------------------------------------------------------------------


def test_2021_markdown_and_html_match_golden():
    data = data_2021()
    md, page = render(data, "2021", "md").decode(), render(data, "2021", "html").decode()
    check_golden("report-2021.md", md)
    check_golden("report-2021.html", page)
    assert "报告全文共由六部分组成" in md and "2023年度，淄博市张店区机关事务服务中心依据《政府信息公开信息处理费管理办法》" in md
    assert page.startswith("<!DOCTYPE html>") and '<html lang="zh-CN">' in page and '<meta charset="utf-8">' in page
    assert '<th scope="col" colspan="7">申请人情况</th>' in page
    assert '<th scope="col" colspan="5">法人或其他组织</th>' in page
    assert f'<th scope="col" rowspan="3">{TABLE3_NOTE_ZH}</th>' in page
    assert '<th scope="col" colspan="5" rowspan="2">行政复议</th>' in page
    assert '<th scope="col" colspan="10">行政诉讼</th>' in page
    assert page.count("<thead>") == 6  # four Art. 20 blocks, table 三, table 四


def test_2021_headings_and_placeholders():
    doc = layout_2021.build(data_2021())
    assert doc.numbered_headings() == ["一、总体情况", "二、主动公开政府信息情况", "三、收到和处理政府信息公开申请情况",
                                       "四、政府信息公开行政复议、行政诉讼情况", "五、存在的主要问题及改进情况",
                                       "六、其他需要报告的事项"]
    six = [p.text for p in doc.sections[5].blocks]
    assert six == ["2023年度，淄博市张店区机关事务服务中心依据《政府信息公开信息处理费管理办法》（国办函〔2020〕109号）"
                   "收取信息处理费200元（1件）。", PLACEHOLDER]


def test_2021_tables_have_the_official_shape():
    doc = layout_2021.build(data_2021())
    rules, licensing, penalty, fees = doc.sections[1].blocks
    assert [c.text for c in rules.header[1]] == ["信息内容", "本年制发件数", "本年废止件数", "现行有效件数"]
    assert rules.header[0][0].text == "第二十条第（一）项" and rules.width == 4
    assert rules.body == (BodyRow(("规章",), ("0", "0", "0")), BodyRow(("行政规范性文件",), ("2", "1", "15")))
    assert [r.labels[0] for r in penalty.body] == ["行政处罚", "行政强制"]
    assert licensing.header[0][0].text == "第二十条第（五）项" and penalty.header[0][0].text == "第二十条第（六）项"
    assert [c.text for c in fees.header[1]] == ["信息内容", "本年收费金额（单位：万元）"]
    assert fees.body[0].values == ("1.25",)

    (t3,) = doc.sections[2].blocks
    assert t3.width == 8 and len(t3.header) == 3 and len(t3.body) == len(TABLE3_ROWS) == 30
    assert [r.labels[0] for r in t3.body] == [r.label for r in TABLE3_ROWS]
    assert sum(not r.label_only for r in t3.body) == 25
    new = t3.body[0]
    assert new.values == ("4", "1", "0", "0", "1", "0", "6")

    (t4,) = doc.sections[3].blocks
    assert t4.width == 15 and t4.body[0].values == ("1", "0", "0", "1", "2", "0", "1", "0", "0", "1", *["0"] * 5)
    assert [c.text for c in t4.header[1]] == ["未经复议直接起诉", "复议后起诉"]
    assert [c.text for c in t4.header[2]][:5] == ["结果维持", "结果纠正", "其他结果", "尚未审结", "总计"]


def test_missing_cells_print_zero():
    data = ReportData(year=2023, org="x", org_name="某局")
    doc = layout_2021.build(data)
    (t3,) = doc.sections[2].blocks
    assert all(v == "0" for row in t3.body for v in row.values)
    assert doc.sections[3].blocks[0].body[0].values == ("0",) * 15
    assert [t.body[0].values[0] for t in doc.sections[1].blocks] == ["0"] * 4
    assert "2023年度，某局未收取信息处理费。" in to_markdown(doc)


# ---------------------------------------------------------------------------------------------------------
# Word
# ---------------------------------------------------------------------------------------------------------


def _texts(row) -> list[str]:
    return [c.text for c in row.cells]


def test_2021_docx_tables_read_back():
    d = docx.Document(io.BytesIO(render(data_2021(), "2021", "docx")))
    assert len(d.tables) == 6
    t3 = d.tables[4]
    assert len(t3.rows) == 3 + 30 and len(t3.columns) == 8
    assert _texts(t3.rows[0]) == [TABLE3_NOTE_ZH] + ["申请人情况"] * 7
    assert _texts(t3.rows[1]) == [TABLE3_NOTE_ZH, "自然人", *["法人或其他组织"] * 5, "总计"]
    assert _texts(t3.rows[2]) == [TABLE3_NOTE_ZH, "自然人", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他",
                                  "总计"]
    assert _texts(t3.rows[3]) == ["一、本年新收政府信息公开申请数量", "4", "1", "0", "0", "1", "0", "6"]
    granted = next(r for r in t3.rows if r.cells[0].text == "（一）予以公开")
    assert _texts(granted)[1:] == ["2", "0", "0", "0", "1", "0", "3"]
    group = next(r for r in t3.rows if r.cells[0].text == "（三）不予公开")
    assert _texts(group) == ["（三）不予公开"] * 8  # one cell across the row
    assert _texts(t3.rows[-1])[-1] == "1"  # 四、结转下年度继续办理, 总计
    # the three header rows repeat on every page, the body rows do not
    flags = [r._tr.trPr is not None and r._tr.trPr.find(qn("w:tblHeader")) is not None for r in t3.rows]
    assert flags == [True] * 3 + [False] * 30

    t4 = d.tables[5]
    assert _texts(t4.rows[0]) == ["行政复议"] * 5 + ["行政诉讼"] * 10
    assert _texts(t4.rows[1]) == ["行政复议"] * 5 + ["未经复议直接起诉"] * 5 + ["复议后起诉"] * 5
    assert _texts(t4.rows[3])[:5] == ["1", "0", "0", "1", "2"]
    assert _texts(d.tables[0].rows[0]) == ["第二十条第（一）项"] * 4


def test_docx_fonts_headings_and_signature():
    d = docx.Document(io.BytesIO(render(data_2018(), "2018", "docx")))
    paragraphs = [p for p in d.paragraphs if p.text]

    def east_asia(p) -> str:
        return p.runs[0]._r.rPr.rFonts.get(qn("w:eastAsia"))

    title, preface = paragraphs[0], paragraphs[1]
    assert title.text == f"{ZHANGDIAN}2018年政府信息公开工作年度报告" and east_asia(title) == "方正小标宋简体"
    assert "报告全文共由十三部分组成" in preface.text and east_asia(preface) == "仿宋"
    headings = [p for p in paragraphs if p.style.name == "Heading 1"]
    assert [h.text for h in headings][:2] == ["一、概述", "二、信息公开的组织领导和制度建设情况"] and len(headings) == 13
    assert all(east_asia(h) == "黑体" for h in headings)
    assert [p.text for p in paragraphs[-2:]] == [ZHANGDIAN, "2019年3月26日"]
    assert all(p.alignment == 2 for p in paragraphs[-2:])  # WD_ALIGN_PARAGRAPH.RIGHT


def test_a_table_copied_from_an_earlier_report_is_what_building_it_writes(monkeypatch):
    """Reports of one layout copy their tables from the first one built, then write their own numbers."""
    from services.reports.layouts import render as r

    def body(content: bytes) -> bytes:
        return docx.Document(io.BytesIO(content)).element.body.xml.encode()

    first, second = data_2021(), data_2021()
    second.applications["new_applications"] = {k: v + 7 for k, v in second.applications["new_applications"].items()}
    second.review_litigation = {k: v + 11 for k, v in second.review_litigation.items()}
    monkeypatch.setattr(r, "_TABLES", {})
    render(first, "2021", "docx")
    copied = render(second, "2021", "docx")
    r._TABLES.clear()
    built = render(second, "2021", "docx")
    assert body(copied) == body(built)
    assert body(copied) != body(render(first, "2021", "docx"))


def test_a_rendered_docx_leaves_no_xml_behind_for_the_collector(monkeypatch):
    """A city renders hundreds of reports: each one's XML is freed once it is rendered, not whenever the
    collector (which counts Python objects, not the XML behind them) next runs a full collection — even when the
    document's objects had grown old during the render and a collection of the young ones would miss them."""
    from services.reports import app

    documents = []

    def kept(*args, **kwargs):
        d = real(*args, **kwargs)
        documents.append(weakref.ref(d.element))
        return d

    real = docx.Document
    monkeypatch.setattr(docx, "Document", kept)
    gc.collect()
    monkeypatch.setattr(app.gc, "collect", lambda generation=2: 0)  # from here on, no collection at all
    gc.disable()
    try:
        content = app._rendered(data_2021(), "2021", "docx")
        assert len(documents) == 1 and documents[0]() is None
    finally:
        gc.enable()
    assert content.startswith(b"PK")


# ---------------------------------------------------------------------------------------------------------
# The model and the entry point
# ---------------------------------------------------------------------------------------------------------


def test_zh_number():
    assert [zh_number(n) for n in (1, 6, 10, 12, 13, 20, 21, 99)] == ["一", "六", "十", "十二", "十三", "二十", "二十一",
                                                                      "九十九"]


def test_table_checks_its_shape():
    with pytest.raises(ValueError, match="rectangle"):
        Table(header=((HeaderCell("a", colspan=2),), (HeaderCell("b"),)), body=())
    with pytest.raises(ValueError, match="cells"):
        Table(header=((HeaderCell("a"), HeaderCell("b")),), body=(BodyRow(("x",), ("1", "2")),))


def test_markdown_escapes_and_flattens():
    table = Table(header=((HeaderCell("项目", rowspan=2), HeaderCell("组", colspan=2)), (HeaderCell("甲"), HeaderCell("乙|丙"))),
                  body=(BodyRow(("x",), ("1", "2")),))
    doc = build(data_2018(), "2018")
    doc = type(doc)(title="T", preface=(), sections=(type(doc.sections[0])("S", (table,)),))
    md = to_markdown(doc)
    assert "| 项目 | 组 / 甲 | 组 / 乙\\|丙 |" in md and "注：表头中的合并单元格" in md
    assert re.search(r"<th scope=\"col\" colspan=\"2\">组</th>", to_html(doc))
    assert to_docx(doc)[:2] == b"PK"


def test_json_and_errors():
    payload = json.loads(render(data_2021(), "2021", "json"))
    assert payload["template"] == "2021" and payload["year"] == 2023 and payload["schema_version"] == 1
    assert payload["tables"]["fees"]["charged_yuan"] == 200
    assert payload["tables"]["applications"]["new_applications"]["total"] == \
        data_2021().applications["new_applications"]["total"]
    assert AnnualReportDocument.model_validate(payload) == AnnualReportDocument.of(data_2021(), "2021")
    with pytest.raises(ValueError):
        render(data_2021(), "2019", "md")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        render(data_2021(), "2021", "odt")  # type: ignore[arg-type]


def test_the_pdf_has_the_reports_pages_and_its_chinese_text():
    from services.reports.layouts.render import render

    pdf = render(data_2021(), "2021", "pdf")
    assert pdf.startswith(b"%PDF") and b"STSong-Light" in pdf and pdf.count(b"/Type /Page") >= 2
    seed = render(data_2018(), "2018", "pdf")
    assert seed.startswith(b"%PDF") and len(seed) > 3000


def test_every_narrative_section_a_layout_prints_can_be_written_through_the_api():
    from contracts.report_texts import NARRATIVE_SECTIONS
    from services.reports.layouts import layout_2018, layout_2021

    assert set(layout_2018.NARRATIVE_KEYS) | set(layout_2021.NARRATIVE_KEYS) == set(NARRATIVE_SECTIONS)
