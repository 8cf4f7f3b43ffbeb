"""The pre-publication scan (发布前检查): detectors, masking, ids, ordering and what blocks publication."""

import hashlib
from datetime import date

import pytest
from pydantic import ValidationError

from contracts import scan as sc
from contracts.scan import Finding, FindingKind, blocks_publication, scan

TODAY = date(2024, 6, 1)
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def make_id(first17: str) -> str:
    """A 身份证号 with its GB 11643 校验码, computed here independently of the module."""
    return first17 + "10X98765432"[sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True)) % 11]


def wrong_check(number: str) -> str:
    """The same number with any other check character."""
    return number[:17] + ("0" if number[17] != "0" else "1")


def make_card(prefix: str, length: int) -> str:
    """A Luhn-valid card number of the given length."""
    body = prefix + "3" * (length - 1 - len(prefix))
    for check in "0123456789":
        digits = body + check
        total = sum((d * 2 - 9 if d * 2 > 9 else d * 2) if i % 2 else d for i, d in enumerate(int(c) for c in reversed(digits)))
        if total % 10 == 0:
            return digits
    raise AssertionError("unreachable")


def kinds(findings: list[Finding]) -> list[str]:
    return [f.kind.value for f in findings]


def body_scan(body: str, **kw) -> list[Finding]:
    return scan("", body, today=TODAY, **kw)


# --- 身份证号 ---------------------------------------------------------------------------------------------

ID_1990 = make_id("37010219900307123")


@pytest.mark.parametrize(
    "number",
    [
        "11010519491231002X",  # the GB 11643 example
        "11010519491231002x",  # lower-case X
        ID_1990,
        make_id("44030419000101001"),  # 1900-01-01, the earliest allowed
        make_id("11010120000229003"),  # a leap day
        make_id("11010120240601004"),  # born today
    ],
)
def test_valid_id_card_numbers_are_found_and_masked(number):
    [f] = body_scan(f"申请人身份证号{number}，请核对。")
    assert f.kind is FindingKind.ID_CARD and not f.blocking
    assert f.excerpt == f"{number[:4]}**********{number[-4:].upper()}"
    assert (f.start, f.end) == (7, 25)
    assert f.field == "body"


def test_id_card_mask_example():
    [f] = body_scan(make_id("37010219900307123"))
    assert f.excerpt == "3701**********" + ID_1990[-4:]
    assert sc.mask_id_card("370102199003071234") == "3701**********1234"


@pytest.mark.parametrize(
    "number",
    [
        wrong_check("11010519491231002X"),
        wrong_check(ID_1990),
        "440524188001010014",  # right checksum, but born 1880
        make_id("11010119900230001"),  # 30 February
        make_id("11010119901301001"),  # month 13
        make_id("11010120240602001"),  # born tomorrow
        make_id("11010120250101001"),  # born next year
    ],
)
def test_invalid_id_card_numbers_are_not_findings(number):
    # (an 18-digit run that happens to pass Luhn may still be reported as a bank card)
    assert [f for f in body_scan(f"证件号码 {number} 。") if f.kind is not FindingKind.BANK_CARD] == []


def test_id_card_inside_a_longer_digit_run_is_not_a_finding():
    assert body_scan("9" + ID_1990) == []
    assert body_scan(ID_1990 + "0") == []
    assert kinds(body_scan("编号A" + ID_1990 + "号")) == ["id_card"]


def test_full_width_digits_are_read_but_offsets_are_the_original():
    full = ID_1990.translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ"))
    text = f"身份证：{full}"
    [f] = body_scan(text)
    assert f.kind is FindingKind.ID_CARD and text[f.start : f.end] == full
    assert f.id == body_scan(ID_1990)[0].id


def test_check_code_rules():
    assert sc.id_card_check_code("11010519491231002") == "X"
    assert sc.is_valid_id_card("11010519491231002X", today=TODAY)
    assert sc.is_valid_id_card("11010519491231002x", today=TODAY)
    assert not sc.is_valid_id_card("11010519491231002", today=TODAY)
    assert not sc.is_valid_id_card("1101051949123100XX", today=TODAY)


# --- 手机号 -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "13812345678",
        "138 1234 5678",
        "138-1234-5678",
        "+8613812345678",
        "+86 138 1234 5678",
        "86-13812345678",
        "008613812345678",
        "１３８１２３４５６７８",
    ],
)
def test_mobile_numbers_are_found_and_masked(text):
    [f] = body_scan(f"联系电话：{text}。")
    assert f.kind is FindingKind.MOBILE and not f.blocking
    assert f.excerpt == "138****5678"
    assert (f.start, f.end) == (5, 5 + len(text))


@pytest.mark.parametrize(
    "text",
    [
        "013812345678",  # inside a longer number
        "138123456789",
        "2013812345678901",
        "12812345678",  # 12x is not a mobile prefix
        "10012345678",
        "1381234567",  # ten digits
        "138 1234-5678",  # mixed separators
        "1381 234 5678",  # not 3-4-4
        "138 1234 5678 9",  # a longer group run
        "0531-88776655",  # a landline
    ],
)
def test_non_mobiles_are_not_findings(text):
    assert [f for f in body_scan(f"号码 {text} 。") if f.kind is FindingKind.MOBILE] == []


# --- 银行卡号 ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "number",
    ["4111111111111111", "5555555555554444", "6200000000000005", "6205500000000000004"]
    + [make_card("622202", n) for n in (16, 17, 18, 19)],
)
def test_luhn_valid_cards_are_found(number):
    [f] = body_scan(f"收款账号：{number}。")
    assert f.kind is FindingKind.BANK_CARD and not f.blocking
    assert (f.start, f.end) == (5, 5 + len(number))
    assert f.excerpt.startswith(number[:4] + " ****") and f.excerpt.endswith(" " + number[-4:])
    assert f.excerpt.count("*") == len(number) - 8


def test_card_masking_and_grouping():
    card = make_card("622202", 16)
    for written in (card, " ".join(card[i : i + 4] for i in range(0, 16, 4)), "-".join(card[i : i + 4] for i in range(0, 16, 4))):
        [f] = body_scan(f"卡号 {written}")
        assert f.excerpt == f"6222 **** **** {card[-4:]}"
        assert f.end - f.start == len(written)
    long = make_card("622202", 19)
    grouped = " ".join(long[i : i + 4] for i in range(0, 19, 4))
    [f] = body_scan(grouped)
    assert f.excerpt == f"6222 **** **** *** {long[-4:]}"
    assert sc.mask_bank_card("6222021234567890") == "6222 **** **** 7890"


def test_non_cards_are_not_findings():
    card = make_card("622202", 16)
    bad = card[:-1] + str((int(card[-1]) + 1) % 10)
    twenty = make_card("622202", 20)
    assert sc.luhn_ok(twenty)
    assert body_scan(bad) == []  # fails Luhn
    assert body_scan(twenty) == []  # a 20-digit run is not a card
    assert body_scan("12345" + card + "67") == []  # inside a longer digit run
    assert body_scan(make_card("6222", 15)) == []  # too short
    assert body_scan(" ".join(twenty[i : i + 4] for i in range(0, 20, 4))) == []  # 5 full groups
    assert body_scan("1234 " + " ".join(card[i : i + 4] for i in range(0, 16, 4))) == []


def test_a_valid_id_card_is_never_also_a_card():
    # find an id card that happens to pass Luhn too
    luhn_id = next(n for n in (make_id(f"11010119900101{i:03d}") for i in range(100)) if sc.luhn_ok(n))
    assert kinds(body_scan(luhn_id)) == ["id_card"]
    assert sc.find_bank_cards(luhn_id, "body", today=TODAY) == []


# --- 密级标志 ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "excerpt"),
    [
        ("机密★5年", "机密★5年"),
        ("绝密★10年\n关于……的通知", "绝密★10年"),
        ("秘密★一年", "秘密★一年"),
        ("秘密★6个月", "秘密★6个月"),
        ("机密★长期", "机密★长期"),
        ("绝密★启用前", "绝密★启用前"),
        ("机密★", "机密★"),
        ("机密 ★ 1年", "机密 ★ 1年"),
        ("本件为机密★，不得外传", "机密★"),
        ("关于……的通知\n秘密\n各单位：", "秘密"),
        ("　　机密　　\r\n正文", "机密"),
        ("机密  特急\n正文", "机密"),
        ("【绝密】关于……的报告", "绝密"),
        ("（秘密）", "秘密"),
        ("[机密] 会议纪要", "机密"),
        ("密级：秘密", "秘密"),
        ("密级:机密  保密期限：10年", "机密"),
    ],
)
def test_secrecy_marks_block(text, excerpt):
    [f] = body_scan(text)
    assert f.kind is FindingKind.SECRECY_MARK and f.blocking
    assert f.excerpt == excerpt == text[f.start : f.end]
    assert blocks_publication([f])


@pytest.mark.parametrize(
    "text",
    [
        "涉及商业秘密的信息不予公开。",
        "保守国家秘密是公民的义务",
        "秘密审查",
        "机密文件管理办法",
        "商业机密",
        "**商业秘密**",
        "国家秘密的密级分为“绝密”“机密”“秘密”三级。",
        "密级为秘密的文件应当……",
        "（涉及国家秘密）",
        "拒绝密码泄露",
        "秘密的",
    ],
)
def test_running_text_is_not_a_secrecy_mark(text):
    assert body_scan(text) == []


def test_a_mark_matched_by_several_rules_is_one_finding():
    [f] = body_scan("（机密★5年）")
    assert f.excerpt == "机密★5年"
    [f] = body_scan("密级：秘密★1年")
    assert f.excerpt == "秘密★1年"


def test_a_mark_in_the_title_blocks():
    findings = scan("秘密★", "正文", today=TODAY)
    assert [(f.kind, f.field) for f in findings] == [(FindingKind.SECRECY_MARK, "title")]
    assert blocks_publication(findings)


# --- 敏感词 -----------------------------------------------------------------------------------------------


def test_each_occurrence_of_each_sensitive_word_is_a_finding():
    findings = body_scan("内部资料：内部讨论稿，ABC 与 abc。", sensitive_words=["内部", "内部资料", "abc", " ", "", "ABC"])
    got = [(f.excerpt, f.start, f.end) for f in findings]
    assert got == [("内部", 0, 2), ("内部资料", 0, 4), ("内部", 5, 7), ("ABC", 11, 14), ("abc", 17, 20)]
    assert all(f.kind is FindingKind.SENSITIVE_WORD and not f.blocking for f in findings)
    assert not blocks_publication(findings)


def test_no_words_no_findings():
    assert body_scan("内部资料") == []
    assert body_scan("a.b", sensitive_words=["a.b"])[0].excerpt == "a.b"
    assert body_scan("axb", sensitive_words=["a.b"]) == []  # words are literal, not regexes


# --- the scan as a whole ----------------------------------------------------------------------------------


def test_findings_are_sorted_title_first_then_by_position():
    card = make_card("622202", 16)
    title = f"关于{ID_1990}的答复"
    body = f"卡号{card}，电话13812345678，机密★5年，{ID_1990}"
    findings = scan(title, body, sensitive_words=["答复", "电话"], today=TODAY)
    assert [(f.field, f.kind.value) for f in findings] == [
        ("title", "id_card"),
        ("title", "sensitive_word"),
        ("body", "bank_card"),
        ("body", "sensitive_word"),
        ("body", "mobile"),
        ("body", "secrecy_mark"),
        ("body", "id_card"),
    ]
    starts = [f.start for f in findings if f.field == "body"]
    assert starts == sorted(starts)
    for f in findings:
        assert (title if f.field == "title" else body)[f.start : f.end]
    assert blocks_publication(findings)


def test_ids_are_deterministic_and_unique():
    body = "电话 13812345678，又 138-1234-5678；另 13987654321。"
    first = body_scan(body)
    again = body_scan(body)
    assert first == again
    ids = [f.id for f in first]
    assert len(set(ids)) == 3
    base = "mobile:" + hashlib.sha1(b"13812345678").hexdigest()[:10]
    assert ids[:2] == [base, base + "-2"]
    assert ids[2].startswith("mobile:") and len(ids[2]) == len("mobile:") + 10


def test_same_value_same_id_across_texts():
    a = body_scan(f"甲 {ID_1990}")[0]
    b = scan(f"{ID_1990}", "", today=TODAY)[0]
    assert a.id == b.id and (a.field, b.field) == ("body", "title")


def test_clean_text_has_no_findings_and_does_not_block():
    findings = scan("关于2024年政府信息公开工作年度报告", "本机关2024年共收到申请123件，办结率100%。联系电话0531-12345678。")
    assert findings == [] and not blocks_publication(findings)


def test_finding_is_frozen():
    [f] = body_scan("13812345678")
    with pytest.raises(ValidationError):
        f.excerpt = "x"  # type: ignore[misc]
    assert Finding.model_validate(f.model_dump()) == f


def test_detectors_can_run_alone():
    assert kinds(sc.find_mobiles("13812345678", "title")) == ["mobile"]
    assert kinds(sc.find_id_cards(ID_1990, "title", today=TODAY)) == ["id_card"]
    assert kinds(sc.find_secrecy_marks("绝密★", "title")) == ["secrecy_mark"]
    assert kinds(sc.find_sensitive_words("xx", "title", ["x"])) == ["sensitive_word", "sensitive_word"]
