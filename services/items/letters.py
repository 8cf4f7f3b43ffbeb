"""The reply letter to a disclosure application (政府信息公开申请答复书), as a Word document or as plain text.

Regulation 国务院令第711号 Art. 36 gives seven kinds of reply; each has one template sentence here, followed by the
office's own text, the remedies and the signature. `outcome` is the leaf row of the annual report's table 三 that
the application is counted under; it must agree with the reply type (`OUTCOMES_BY_REPLY_TYPE`). No I/O here:
`render_docx` returns the document's bytes.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml.ns import qn
from docx.shared import Length, Mm, Pt
from docx.text.run import Run
from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts.exemptions import REJECT_REASONS

REGULATION = "《中华人民共和国政府信息公开条例》"
TITLE = "政府信息公开申请答复书"

# Fonts are written by name only; Word substitutes when one is not installed.
TITLE_FONT = "方正小标宋简体"
BODY_FONT = "仿宋"
LATIN_FONT = "Times New Roman"
TITLE_SIZE = Pt(22)  # 二号
BODY_SIZE = Pt(16)  # 三号
INDENT = Pt(32)  # two characters of the body size

#: the leaf rows of table 三 (2021 format) an application can be counted under
OUTCOMES: dict[str, str] = {
    "granted": "予以公开",
    "partially_granted": "部分公开",
    "denied_state_secret": "不予公开：属于国家秘密",
    "denied_prohibited_by_law": "不予公开：其他法律行政法规禁止公开",
    "denied_security_stability": "不予公开：危及“三安全一稳定”",
    "denied_third_party_rights": "不予公开：保护第三方合法权益",
    "denied_internal_affairs": "不予公开：属于三类内部事务信息",
    "denied_process_info": "不予公开：属于四类过程性信息",
    "denied_enforcement_file": "不予公开：属于行政执法案卷",
    "denied_admin_query": "不予公开：属于行政查询事项",
    "unable_not_held": "无法提供：本机关不掌握相关政府信息",
    "unable_needs_creation": "无法提供：没有现成信息需要另行制作",
    "unable_unclear_after_correction": "无法提供：补正后申请内容仍不明确",
    "not_processed_petition_complaint": "不予处理：信访举报投诉类申请",
    "not_processed_duplicate": "不予处理：重复申请",
    "not_processed_publication": "不予处理：要求提供公开出版物",
    "not_processed_excessive": "不予处理：无正当理由大量反复申请",
    "not_processed_confirm_reissue": "不予处理：要求行政机关确认或重新出具已获取信息",
    "other_no_correction": "其他处理：申请人无正当理由逾期不补正",
    "other_fee_unpaid": "其他处理：申请人逾期未缴纳费用",
    "other_misc": "其他处理：其他",
}

#: which table-三 rows a reply of each Art. 36 type may be counted under. A split case (区分处理, counted as
#: `partially_granted`) may be written as type 2 (the part provided) or 3 (the part withheld); `unable_needs_creation`
#: (no ready-made information, Art. 38) as type 4. The outcomes of Art. 30, 35, 39 and 其他处理 have no Art. 36 type.
OUTCOMES_BY_REPLY_TYPE: dict[int, frozenset[str]] = {
    1: frozenset({"granted"}),
    2: frozenset({"granted", "partially_granted"}),
    3: frozenset(REJECT_REASONS) | {"partially_granted"},
    4: frozenset({"unable_not_held", "unable_needs_creation"}),
    5: frozenset({"unable_not_held"}),
    6: frozenset({"not_processed_duplicate"}),
    7: frozenset({"denied_admin_query"}),
}

#: why the information is withheld, as a phrase after "您申请获取的政府信息" (reply type 3)
DENIAL_GROUNDS: dict[str, str] = {
    "denied_state_secret": "属于国家秘密",
    "denied_prohibited_by_law": "属于法律、行政法规禁止公开的信息",
    "denied_security_stability": "公开后可能危及国家安全、公共安全、经济安全、社会稳定",
    "denied_third_party_rights": "涉及商业秘密、个人隐私等公开后可能损害第三方合法权益的内容",
    "denied_internal_affairs": "属于行政机关的内部事务信息",
    "denied_process_info": "属于行政机关在履行行政管理职能过程中形成的过程性信息",
    "denied_enforcement_file": "属于行政执法案卷信息",
    "denied_admin_query": "属于行政查询事项",
}

_ITEM = {1: "（一）", 2: "（二）", 3: "（三）", 4: "（四）", 5: "（五）", 6: "（六）", 7: "（七）"}


class ReplyLetter(BaseModel):
    """One reply letter. `body` is the office's own text; paragraphs are separated by blank lines."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    org_name: str = Field(min_length=1)  # the replying office, as signed
    applicant_name: str = Field(min_length=1)
    received_on: date  # date of receipt (Art. 31)
    reference_no: str = Field(min_length=1)  # e.g. 张机管依复〔2026〕3号
    subject: str = Field(min_length=1)  # what was asked for, quoted in the opening sentence
    outcome: str  # a key of OUTCOMES
    reply_type: int = Field(ge=1, le=7)  # Art. 36 item (一)…(七)
    legal_basis: str | None = None  # "第十六条第二款" (of the Regulation) or a full title "《不动产登记资料查询暂行办法》"
    body: str = ""
    other_agency: str | None = None  # type 5: the agency responsible, with its contact details if known
    dated: date
    contact: str | None = None  # e.g. "联系人：李娜，电话：0123-4567890"
    review_body: str | None = None  # named in the remedies sentence when given
    court: str | None = None  # likewise

    @model_validator(mode="after")
    def _consistent(self) -> ReplyLetter:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {self.outcome!r}; known: {', '.join(OUTCOMES)}")
        allowed = OUTCOMES_BY_REPLY_TYPE[self.reply_type]
        if self.outcome not in allowed:
            raise ValueError(
                f"a reply of Art. 36 type {self.reply_type} cannot be counted as {self.outcome!r}; "
                f"allowed: {', '.join(sorted(allowed))}"
            )
        if self.other_agency and self.reply_type != 5:
            raise ValueError("other_agency is named only in a reply of type 5 (not this agency's information)")
        if self.reply_type == 3 and not self.legal_basis:
            raise ValueError("a refusal to disclose (reply type 3) needs its legal basis")
        if self.dated < self.received_on:
            raise ValueError("the reply cannot be dated before the application was received")
        return self


def chinese_date(d: date) -> str:
    """2026-11-25 → 2026年11月25日"""
    return f"{d.year}年{d.month}月{d.day}日"


def _basis(legal_basis: str) -> str:
    """A provision of the Regulation ("第十六条第二款") gets the Regulation's title; a titled text is kept."""
    return legal_basis if legal_basis.startswith("《") else f"{REGULATION}{legal_basis}"


def _art36(reply_type: int) -> str:
    return f"根据{REGULATION}第三十六条第{_ITEM[reply_type]}项的规定"


def opening_sentence(letter: ReplyLetter) -> str:
    return (
        f"本机关于{chinese_date(letter.received_on)}收到您提出的政府信息公开申请，"
        f"申请获取“{letter.subject}”。经审查，现答复如下："
    )


def reply_type_sentence(letter: ReplyLetter) -> str:
    """The template sentence of the letter's Art. 36 reply type."""
    match letter.reply_type:
        case 1:
            return f"您申请获取的政府信息本机关已经主动公开。{_art36(1)}，现将获取该政府信息的方式和途径告知如下。"
        case 2 if letter.outcome == "partially_granted":
            withheld = f"；其余部分根据{_basis(letter.legal_basis)}的规定不予公开" if letter.legal_basis else ""
            return (
                f"您申请获取的政府信息中含有不应当公开的内容，本机关已作区分处理。"
                f"{_art36(2)}，现向您提供可以公开的部分{withheld}。"
            )
        case 2:
            return f"您申请获取的政府信息属于可以公开的政府信息。{_art36(2)}，本机关决定予以公开。"
        case 3 if letter.outcome == "partially_granted":
            assert letter.legal_basis  # checked by the model
            return (
                f"您申请获取的政府信息中含有不应当公开的内容，本机关已作区分处理，可以公开的部分向您提供；"
                f"其余部分根据{_basis(letter.legal_basis)}的规定，本机关决定不予公开。"
            )
        case 3:
            assert letter.legal_basis  # checked by the model
            return (
                f"您申请获取的政府信息{DENIAL_GROUNDS[letter.outcome]}，根据{_basis(letter.legal_basis)}的规定，"
                f"本机关决定不予公开。"
            )
        case 4 if letter.outcome == "unable_needs_creation":
            why = (
                f"根据{_basis(letter.legal_basis)}的规定，需要对现有政府信息进行加工、分析的，行政机关可以不予提供。"
                if letter.legal_basis
                else ""
            )
            return (
                f"经检索，本机关没有您申请获取的现成政府信息，提供该信息需要对现有政府信息进行加工、分析或者另行制作。"
                f"{why}{_art36(4)}，现告知您该政府信息不存在。"
            )
        case 4:
            return f"经检索，本机关没有您申请获取的政府信息。{_art36(4)}，现告知您该政府信息不存在。"
        case 5:
            who = (
                f"该政府信息由{letter.other_agency}负责公开，请您向该机关提出申请。"
                if letter.other_agency
                else "本机关无法确定负责公开该政府信息的行政机关。"
            )
            return f"您申请获取的政府信息不属于本机关负责公开的政府信息。{_art36(5)}，现告知如下：{who}"
        case 6:
            return (
                f"本机关已就您提出的政府信息公开申请作出答复，您本次系重复申请公开相同政府信息。"
                f"{_art36(6)}，本机关不予重复处理。"
            )
        case 7:
            procedure = _basis(letter.legal_basis) if letter.legal_basis else "有关法律、行政法规"
            return (
                f"您申请获取的信息属于工商、不动产登记资料等有关法律、行政法规对信息获取有特别规定的信息。"
                f"{_art36(7)}，请您依照{procedure}的规定办理。"
            )
    raise AssertionError(letter.reply_type)  # unreachable: the model bounds reply_type to 1..7


def remedies_sentence(letter: ReplyLetter) -> str:
    review = f"向{letter.review_body}申请行政复议" if letter.review_body else "依法申请行政复议"
    court = letter.court or "人民法院"
    return f"如对本答复不服，可以在收到本答复之日起60日内{review}，或者在6个月内向{court}提起行政诉讼。"


def body_paragraphs(body: str) -> list[str]:
    """The office's text split at blank lines; a single line break stays inside its paragraph."""
    return [p.strip() for p in re.split(r"\n[ \t\u3000]*\n", body.strip()) if p.strip()]


Kind = Literal["title", "reference", "salutation", "paragraph", "gap", "signature"]


@dataclass(frozen=True)
class _Block:
    kind: Kind
    text: str = ""


def _blocks(letter: ReplyLetter) -> list[_Block]:
    """The letter's paragraphs in order; both renderers print exactly these."""
    blocks = [
        _Block("title", TITLE),
        _Block("reference", letter.reference_no),
        _Block("salutation", f"{letter.applicant_name}："),
        _Block("paragraph", opening_sentence(letter)),
        _Block("paragraph", reply_type_sentence(letter)),
        *(_Block("paragraph", p) for p in body_paragraphs(letter.body)),
        _Block("paragraph", remedies_sentence(letter)),
    ]
    if letter.contact:
        blocks.append(_Block("paragraph", letter.contact))
    blocks += [
        _Block("gap"),
        _Block("signature", letter.org_name),
        _Block("signature", chinese_date(letter.dated)),
    ]
    return blocks


def render_text(letter: ReplyLetter) -> str:
    """The letter as plain text: one line per paragraph, body paragraphs indented by two full-width spaces."""
    lines: list[str] = []
    for block in _blocks(letter):
        if block.kind == "paragraph":
            lines.append("\u3000\u3000" + block.text.replace("\n", "\n\u3000\u3000"))
        elif block.kind == "reference":
            lines += [block.text, ""]
        else:
            lines.append(block.text)
    return "\n".join(lines) + "\n"


def _font(run: Run, east_asian: str, size: Length) -> None:
    run.font.name = LATIN_FONT  # w:ascii and w:hAnsi: digits and Latin letters
    run.font.size = size
    run._element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), east_asian)


def render_docx(letter: ReplyLetter) -> bytes:
    """The letter as a .docx file (A4, GB/T 9704 margins, 仿宋 三号 body, 小标宋 二号 title)."""
    doc = Document()
    section = doc.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(37), Mm(35)
    section.left_margin, section.right_margin = Mm(28), Mm(26)

    normal = doc.styles["Normal"]
    normal.font.name = LATIN_FONT
    normal.font.size = BODY_SIZE
    normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), BODY_FONT)
    normal.paragraph_format.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    normal.paragraph_format.line_spacing = Pt(28)
    normal.paragraph_format.space_before = normal.paragraph_format.space_after = Pt(0)

    props = doc.core_properties
    props.title = f"{TITLE} {letter.reference_no}"
    props.author = props.last_modified_by = letter.org_name
    props.subject = letter.subject

    for block in _blocks(letter):
        paragraph = doc.add_paragraph()
        run = paragraph.add_run(block.text)  # a "\n" inside the text becomes a line break
        if block.kind == "title":
            paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
            paragraph.paragraph_format.line_spacing = Pt(40)
            _font(run, TITLE_FONT, TITLE_SIZE)
            continue
        _font(run, BODY_FONT, BODY_SIZE)
        if block.kind == "reference":
            paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
            paragraph.paragraph_format.space_after = Pt(16)
        elif block.kind == "paragraph":
            paragraph.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
            paragraph.paragraph_format.first_line_indent = INDENT
        elif block.kind == "signature":
            paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
            paragraph.paragraph_format.right_indent = INDENT

    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()
