"""The reply letter (政府信息公开申请答复书): one letter per Art. 36 reply type, rendered to .docx and to text."""

import io
from datetime import date

import docx
import pytest
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from pydantic import ValidationError

from services.items.letters import (
    OUTCOMES,
    OUTCOMES_BY_REPLY_TYPE,
    TITLE,
    ReplyLetter,
    chinese_date,
    render_docx,
    render_text,
    reply_type_sentence,
)

BODY = "经查，相关信息可在本机关门户网站“政府信息公开”专栏查阅。\n\n网址：https://www.example.gov.cn/xxgk/2026/03.html"
REMEDIES = "如对本答复不服，可以在收到本答复之日起60日内依法申请行政复议，或者在6个月内向人民法院提起行政诉讼。"
OPENING = "本机关于2026年11月3日收到您提出的政府信息公开申请，申请获取“2026年张市老旧小区改造项目清单”。经审查，现答复如下："


def letter(reply_type: int, outcome: str, **overrides) -> ReplyLetter:
    fields = {
        "org_name": "张市机关事务管理局",
        "applicant_name": "王小明",
        "received_on": date(2026, 11, 3),
        "reference_no": f"张机管依复〔2026〕{reply_type}号",
        "subject": "2026年张市老旧小区改造项目清单",
        "outcome": outcome,
        "reply_type": reply_type,
        "body": BODY,
        "dated": date(2026, 11, 25),
        "contact": "联系人：李娜，电话：0123-4567890",
    }
    return ReplyLetter(**(fields | overrides))


#: one letter per reply type, with a phrase only that type's sentence carries
CASES = {
    1: (letter(1, "granted"), "已经主动公开", "第三十六条第（一）项"),
    2: (letter(2, "granted"), "本机关决定予以公开", "第三十六条第（二）项"),
    3: (letter(3, "denied_process_info", legal_basis="第十六条第二款"),
        "根据《中华人民共和国政府信息公开条例》第十六条第二款的规定，本机关决定不予公开", "过程性信息"),
    4: (letter(4, "unable_not_held"), "该政府信息不存在", "第三十六条第（四）项"),
    5: (letter(5, "unable_not_held", other_agency="张市自然资源和规划局（电话：0123-7654321）"),
        "该政府信息由张市自然资源和规划局（电话：0123-7654321）负责公开", "第三十六条第（五）项"),
    6: (letter(6, "not_processed_duplicate"), "本机关不予重复处理", "第三十六条第（六）项"),
    7: (letter(7, "denied_admin_query", legal_basis="《不动产登记资料查询暂行办法》"),
        "请您依照《不动产登记资料查询暂行办法》的规定办理", "第三十六条第（七）项"),
}


def paragraphs(data: bytes) -> list[str]:
    return [p.text for p in docx.Document(io.BytesIO(data)).paragraphs]


@pytest.mark.parametrize("reply_type", sorted(CASES))
def test_each_reply_type_renders_a_complete_word_document(reply_type):
    reply, *phrases = CASES[reply_type]
    data = render_docx(reply)
    assert data[:2] == b"PK"  # a zip package
    texts = paragraphs(data)

    assert texts[0] == TITLE
    assert texts[1] == f"张机管依复〔2026〕{reply_type}号"
    assert texts[2] == "王小明："
    assert texts[3] == OPENING
    assert texts[4] == reply_type_sentence(reply)
    for phrase in phrases:
        assert phrase in texts[4]
    assert texts[5:7] == ["经查，相关信息可在本机关门户网站“政府信息公开”专栏查阅。", "网址：https://www.example.gov.cn/xxgk/2026/03.html"]
    assert texts[7] == REMEDIES
    assert texts[8] == "联系人：李娜，电话：0123-4567890"
    assert texts[-2:] == ["张市机关事务管理局", "2026年11月25日"]


@pytest.mark.parametrize("reply_type", sorted(CASES))
def test_the_text_preview_has_the_same_content(reply_type):
    reply, *phrases = CASES[reply_type]
    text = render_text(reply)
    for expected in (TITLE, reply.reference_no, "王小明：", OPENING, reply_type_sentence(reply), *phrases, REMEDIES,
                     "经查，相关信息可在本机关门户网站“政府信息公开”专栏查阅。", "2026年11月25日", "张市机关事务管理局"):
        assert expected in text
    assert [line.strip("\u3000") for line in text.splitlines() if line] == [t for t in paragraphs(render_docx(reply)) if t]


def test_the_seven_type_sentences_are_distinct():
    assert len({reply_type_sentence(reply) for reply, *_ in CASES.values()}) == 7


def test_layout_and_east_asian_fonts():
    document = docx.Document(io.BytesIO(render_docx(CASES[3][0])))
    title, *_, org, dated = document.paragraphs
    assert title.alignment == WD_ALIGN_PARAGRAPH.CENTER
    assert org.alignment == dated.alignment == WD_ALIGN_PARAGRAPH.RIGHT
    east_asian = [run._element.rPr.rFonts.get(qn("w:eastAsia")) for p in document.paragraphs for run in p.runs]
    assert east_asian[0] == "方正小标宋简体"
    assert set(east_asian[1:]) == {"仿宋"}
    normal = document.styles["Normal"].element.rPr.rFonts
    assert normal.get(qn("w:eastAsia")) == "仿宋"
    assert document.core_properties.author == "张市机关事务管理局"


def test_named_review_body_and_court_appear_in_the_remedies():
    reply = letter(2, "granted", review_body="张市人民政府", court="张市铁路运输法院")
    remedies = (
        "如对本答复不服，可以在收到本答复之日起60日内向张市人民政府申请行政复议，"
        "或者在6个月内向张市铁路运输法院提起行政诉讼。"
    )
    assert remedies in paragraphs(render_docx(reply))


def test_variants_of_the_type_sentences():
    partial = reply_type_sentence(letter(2, "partially_granted", legal_basis="第十五条"))
    assert "区分处理" in partial and "其余部分根据《中华人民共和国政府信息公开条例》第十五条的规定不予公开" in partial
    assert "本机关无法确定负责公开该政府信息的行政机关" in reply_type_sentence(letter(5, "unable_not_held"))
    assert "请您依照有关法律、行政法规的规定办理" in reply_type_sentence(letter(7, "denied_admin_query"))
    withheld = reply_type_sentence(letter(3, "partially_granted", legal_basis="第十五条"))
    assert "区分处理" in withheld
    assert "其余部分根据《中华人民共和国政府信息公开条例》第十五条的规定，本机关决定不予公开" in withheld
    no_ready_made = reply_type_sentence(letter(4, "unable_needs_creation", legal_basis="第三十八条"))
    assert "现成政府信息" in no_ready_made and "第三十八条的规定" in no_ready_made and "该政府信息不存在" in no_ready_made
    assert "第三十八条" not in reply_type_sentence(letter(4, "unable_needs_creation"))


def test_an_empty_body_and_no_contact_leave_no_empty_paragraphs_in_the_text():
    reply = letter(4, "unable_not_held", body="  ", contact=None)
    texts = [t for t in paragraphs(render_docx(reply)) if t]
    assert texts == [TITLE, reply.reference_no, "王小明：", OPENING, reply_type_sentence(reply), REMEDIES,
                     "张市机关事务管理局", "2026年11月25日"]


def test_a_single_line_break_stays_inside_its_paragraph():
    texts = paragraphs(render_docx(letter(1, "granted", body="第一行\n第二行\n\n第二段")))
    assert "第一行\n第二行" in texts and "第二段" in texts


def test_chinese_date_has_no_leading_zeros():
    assert chinese_date(date(2026, 1, 5)) == "2026年1月5日"


@pytest.mark.parametrize("reply_type", [0, 8, -1])
def test_reply_type_outside_1_to_7_is_invalid(reply_type):
    with pytest.raises(ValidationError):
        letter(reply_type, "granted")


@pytest.mark.parametrize(
    ("reply_type", "outcome", "extra"),
    [
        (1, "denied_process_info", {}),  # published information is not a refusal
        (4, "granted", {}),
        (6, "unable_not_held", {}),
        (2, "no_such_outcome", {}),
        (3, "denied_process_info", {}),  # a refusal without its legal basis
        (1, "granted", {"dated": date(2026, 11, 2)}),  # dated before receipt
        (1, "granted", {"applicant_name": "  "}),
        (4, "unable_not_held", {"other_agency": "张市自然资源和规划局"}),  # that is a type-5 reply
        (1, "granted", {"unknown_field": "x"}),
    ],
)
def test_inconsistent_letters_are_invalid(reply_type, outcome, extra):
    with pytest.raises(ValidationError):
        letter(reply_type, outcome, **extra)


def test_the_outcome_map_uses_table_three_keys_only():
    assert set().union(*OUTCOMES_BY_REPLY_TYPE.values()) <= set(OUTCOMES)
    assert len(OUTCOMES) == 21


def test_the_default_reply_type_of_each_outcome_is_accepted():
    """Agrees with `contracts.applications.reply_type`: every outcome it gives a type for can be written."""
    applications = pytest.importorskip("contracts.applications")
    for outcome in applications.Outcome:
        flags = [{}]
        if outcome == "granted":
            flags.append({"already_published": True})
        if outcome == "unable_not_held":
            flags.append({"other_agency": "张市自然资源和规划局"})
        for flag in flags:
            reply_type = applications.reply_type(outcome, **flag)
            if reply_type is None:
                assert outcome not in set().union(*OUTCOMES_BY_REPLY_TYPE.values())
                continue
            basis = {"legal_basis": "第十五条"} if reply_type == 3 else {}
            assert reply_type_sentence(letter(int(reply_type), outcome.value, **basis))
