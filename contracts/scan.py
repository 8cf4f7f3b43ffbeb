"""The pre-publication scan (发布前检查), run on an item's title and body before 初审.

It looks for what must not leave the office by accident: 身份证号, 手机号, 银行卡号, 密级标志 and words a
deployment configures (敏感词). Every hit is a :class:`Finding` the reviewers see with its value masked. Only a
密级标志 blocks publication outright (an item that carries one is a classified document, "涉密不公开");
the others ask the 信息员 to look again, since an office hotline or a 联系人 mobile may be meant to be public.

The scan is pure: no I/O, regexes compiled once, and the same text always yields the same findings with the
same ids. Title and body are plain text. Full-width digits, ``Ｘ``, ``＋``, ``－`` and the full-width space are read
as their ASCII forms; offsets (``start``/``end``) always index the original string.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from datetime import date
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict

ScanField = Literal["title", "body"]


class FindingKind(StrEnum):
    ID_CARD = "id_card"  # 身份证号
    MOBILE = "mobile"  # 手机号
    BANK_CARD = "bank_card"  # 银行卡号
    SECRECY_MARK = "secrecy_mark"  # 密级标志
    SENSITIVE_WORD = "sensitive_word"  # 敏感词


KIND_LABEL_ZH: dict[FindingKind, str] = {
    FindingKind.ID_CARD: "身份证号",
    FindingKind.MOBILE: "手机号",
    FindingKind.BANK_CARD: "银行卡号",
    FindingKind.SECRECY_MARK: "密级标志",
    FindingKind.SENSITIVE_WORD: "敏感词",
}


class Finding(BaseModel):
    """One hit of the 发布前检查.

    ``id`` is ``"{kind}:{sha1(value)[:10]}"`` where value is the canonical form of the match (the digits of a
    number, the mark as written, the configured word); when the same value occurs again in one scan, the
    later occurrences get ``-2``, ``-3``... appended (in title-then-body order), so ids are unique within a
    scan and the same text gives the same ids on every run. ``excerpt`` is safe to display (numbers masked);
    ``start``/``end`` are the span in ``field``.
    """

    model_config = ConfigDict(frozen=True)

    id: str
    kind: FindingKind
    excerpt: str
    field: ScanField
    start: int
    end: int
    blocking: bool = False


# --- normalisation ----------------------------------------------------------------------------------------

#: one character for one character, so offsets in the normalised text are offsets in the original
_NORMALISE = str.maketrans(
    {
        **{chr(0xFF10 + i): str(i) for i in range(10)},  # ０-９
        "Ｘ": "X",
        "ｘ": "x",
        "＋": "+",
        "－": "-",
        "\u2010": "-",  # hyphen
        "\u2011": "-",  # non-breaking hyphen
        "\u2013": "-",  # en dash
        "\u3000": " ",  # 全角空格
    }
)


def _normalise(text: str) -> str:
    return text.translate(_NORMALISE)


def _digest(value: str) -> str:
    return hashlib.sha1(value.encode()).hexdigest()[:10]


def _finding(kind: FindingKind, value: str, excerpt: str, field: ScanField, m: re.Match[str]) -> Finding:
    """A finding spanning the match's group ``n``; its id hashes ``value``, the canonical form of the match."""
    return Finding(
        id=f"{kind}:{_digest(value)}",
        kind=kind,
        excerpt=excerpt,
        field=field,
        start=m.start("n"),
        end=m.end("n"),
        blocking=kind is FindingKind.SECRECY_MARK,
    )


# --- 身份证号 ---------------------------------------------------------------------------------------------

_ID_CARD = re.compile(r"(?<![0-9])(?P<n>[0-9]{17}[0-9Xx])(?![0-9])")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK_CODES = "10X98765432"


def id_card_check_code(first17: str) -> str:
    """The GB 11643 校验码 of the first 17 digits of a 公民身份号码.

    Each digit is multiplied by its weight (7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2, i.e. 2^(17-i) mod 11), the
    products are summed, and the sum mod 11 indexes ``"10X98765432"``: remainder 0 gives ``1``, 2 gives ``X``.
    """
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK_CODES[total % 11]


def is_valid_id_card(number: str, *, today: date | None = None) -> bool:
    """An 18-character 公民身份号码: 17 digits and a digit or X (either case), a real 出生日期 YYYYMMDD in
    positions 7-14 between 1900-01-01 and today, and the right GB 11643 校验码.

    The 6-digit 地址码 and the 3-digit 顺序码 are not checked (codes change with redistricting).
    """
    if len(number) != 18 or not number[:17].isascii() or not number[:17].isdigit():
        return False
    today = today or date.today()
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    if not date(1900, 1, 1) <= born <= today:
        return False
    return id_card_check_code(number[:17]) == number[17].upper()


def mask_id_card(number: str) -> str:
    """``3701**********1234``: the first four and the last four characters."""
    return f"{number[:4]}{'*' * (len(number) - 8)}{number[-4:]}"


def find_id_cards(text: str, field: ScanField, *, today: date | None = None) -> list[Finding]:
    """身份证号: an 18-character run not inside a longer digit run that passes :func:`is_valid_id_card`.
    A number with a wrong 校验码 or an impossible birth date is not a finding."""
    out = []
    for m in _ID_CARD.finditer(_normalise(text)):
        number = m["n"].upper()
        if is_valid_id_card(number, today=today):
            out.append(_finding(FindingKind.ID_CARD, number, mask_id_card(number), field, m))
    return out


# --- 手机号 -----------------------------------------------------------------------------------------------

#: 1[3-9]x xxxx xxxx, contiguous or in 3-4-4 groups with one separator used throughout, after an optional
#: +86 / 0086 / 86 country code; neither digits nor another "separator + digit" on either side
_MOBILE = re.compile(
    r"(?<![0-9])(?P<n>(?:(?:\+|00)?86[ -]?)?(?P<num>1[3-9][0-9](?P<sep>[ -]?)[0-9]{4}(?P=sep)[0-9]{4}))"
    r"(?![0-9])(?!(?P=sep)[0-9])"
)


def mask_mobile(number: str) -> str:
    """``138****5678``: the first three and the last four digits."""
    return f"{number[:3]}****{number[-4:]}"


def find_mobiles(text: str, field: ScanField) -> list[Finding]:
    """手机号: a mainland mobile number, not part of a longer digit run. The country code is part of the
    span but not of the value (``+86 13812345678`` and ``13812345678`` are the same number)."""
    out = []
    for m in _MOBILE.finditer(_normalise(text)):
        number = re.sub(r"[ -]", "", m["num"])
        out.append(_finding(FindingKind.MOBILE, number, mask_mobile(number), field, m))
    return out


# --- 银行卡号 ---------------------------------------------------------------------------------------------

#: 16-19 contiguous digits, or 4+4+4+4 (+1..3) digits with one space or hyphen throughout; not inside a
#: longer run of digits or of groups
_BANK_CARD = re.compile(
    r"(?<![0-9])(?P<n>[0-9]{16,19}(?![0-9])"
    r"|(?<![0-9][ -])[0-9]{4}(?P<sep>[ -])[0-9]{4}(?P=sep)[0-9]{4}(?P=sep)[0-9]{4}(?:(?P=sep)[0-9]{1,3})?"
    r"(?![0-9])(?!(?P=sep)[0-9]))"
)


def luhn_ok(digits: str) -> bool:
    """The Luhn (mod 10) check of ISO/IEC 7812 card numbers: from the rightmost digit (the check digit)
    leftwards, double every second digit, subtracting 9 when the double exceeds 9; the sum must end in 0."""
    if not digits.isascii() or not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def mask_bank_card(digits: str) -> str:
    """``6222 **** **** 1234``: the first four and the last four digits, the rest starred in groups of four."""
    stars = "*" * (len(digits) - 8)
    return " ".join([digits[:4], *(stars[i : i + 4] for i in range(0, len(stars), 4)), digits[-4:]])


def find_bank_cards(text: str, field: ScanField, *, today: date | None = None) -> list[Finding]:
    """银行卡号: 16-19 digits passing :func:`luhn_ok`, not part of a longer digit run, and not a valid
    身份证号 (an 18-digit 身份证号 passes Luhn one time in ten; it is reported as an id card instead)."""
    out = []
    for m in _BANK_CARD.finditer(_normalise(text)):
        digits = re.sub(r"[ -]", "", m["n"])
        if luhn_ok(digits) and not is_valid_id_card(digits, today=today):
            out.append(_finding(FindingKind.BANK_CARD, digits, mask_bank_card(digits), field, m))
    return out


# --- 密级标志 ---------------------------------------------------------------------------------------------

_LEVEL = "(?:绝密|机密|秘密)"
_H = r"[^\S\r\n]"  # horizontal whitespace, 全角空格 included
_PERIOD = r"(?:[0-9零〇一二两三四五六七八九十百]+" + _H + r"*(?:个月|年|月|天|日)|长期|启用前)"

#: the rules that make 绝密/机密/秘密 a 密级标志 rather than a word of running text (see find_secrecy_marks)
_SECRECY_MARKS = (
    # 1. followed by ★ (or ☆), with an optional 保密期限: 机密★, 绝密★10年, 秘密★一年, 绝密★启用前
    re.compile(rf"(?P<n>{_LEVEL}{_H}*[★☆](?:{_H}*{_PERIOD})?)"),
    # 2. alone on its line, optionally with a 紧急程度: a line "秘密", "机密  特急"
    re.compile(rf"(?m)^{_H}*(?P<n>{_LEVEL})(?:{_H}+(?:特急|加急|特提|平急))?{_H}*\r?$"),
    # 3. alone in brackets: 【机密】 （秘密） [绝密] 〔机密〕
    re.compile(rf"[【\[（(〔]{_H}*(?P<n>{_LEVEL}){_H}*[】\]）)〕]"),
    # 4. as the value of a 密级 label: 密级：秘密
    re.compile(rf"密级{_H}*[:：]?{_H}*(?P<n>{_LEVEL})"),
)


def find_secrecy_marks(text: str, field: ScanField) -> list[Finding]:
    """密级标志 (GB/T 9704 公文格式: "密级★保密期限", top left): always blocking.

    绝密/机密/秘密 is a mark when it is followed by ★ (any context, with its 保密期限 if one follows: digits or
    Chinese numerals with 年/个月/月/天/日, 长期, 启用前), when it stands alone on its line (optionally followed by a
    紧急程度 such as 特急), when it stands alone in brackets, or when it is the value of a "密级：" label. Running
    text is not a mark: "涉及商业秘密的信息不予公开", "保守国家秘密", "机密文件", a line "秘密审查", or the levels
    quoted in a sentence ("分为“绝密”“机密”“秘密”三级"). Overlapping hits of several rules are one finding.
    """
    norm = _normalise(text)
    hits = sorted((m for rule in _SECRECY_MARKS for m in rule.finditer(norm)), key=lambda m: (m.start("n"), -m.end("n")))
    out: list[Finding] = []
    for m in hits:
        if out and m.start("n") < out[-1].end:
            continue
        mark = re.sub(rf"{_H}+", "", m["n"])
        out.append(_finding(FindingKind.SECRECY_MARK, mark, text[m.start("n") : m.end("n")], field, m))
    return out


# --- 敏感词 -----------------------------------------------------------------------------------------------


def _clean_words(words: Iterable[str]) -> list[str]:
    """Stripped, without blanks and without case-insensitive duplicates, in the order given."""
    seen: set[str] = set()
    out = []
    for w in words:
        w = w.strip()
        if w and w.casefold() not in seen:
            seen.add(w.casefold())
            out.append(w)
    return out


def find_sensitive_words(text: str, field: ScanField, words: Iterable[str]) -> list[Finding]:
    """敏感词: every occurrence of every configured word (case-insensitive for Latin letters; a word inside a
    longer configured word is reported too). The excerpt is the text as written, the id names the word as
    configured."""
    out = []
    for word in _clean_words(words):
        for m in re.finditer(f"(?P<n>{re.escape(word)})", text, re.IGNORECASE):
            out.append(_finding(FindingKind.SENSITIVE_WORD, word, m["n"], field, m))
    return out


# --- the scan ---------------------------------------------------------------------------------------------

#: among numbers, a span reported as a higher kind hides the lower kinds that overlap it
_NUMBER_RANK = {FindingKind.ID_CARD: 0, FindingKind.BANK_CARD: 1, FindingKind.MOBILE: 2}
_FIELD_ORDER: dict[str, int] = {"title": 0, "body": 1}


def _scan_field(text: str, field: ScanField, words: Sequence[str], today: date | None) -> list[Finding]:
    numbers = find_id_cards(text, field, today=today) + find_bank_cards(text, field, today=today) + find_mobiles(text, field)
    kept: list[Finding] = []
    for f in sorted(numbers, key=lambda f: _NUMBER_RANK[f.kind]):
        if not any(k.start < f.end and f.start < k.end for k in kept):
            kept.append(f)
    return kept + find_secrecy_marks(text, field) + find_sensitive_words(text, field, words)


def scan(title: str, body: str, *, sensitive_words: Iterable[str] = (), today: date | None = None) -> list[Finding]:
    """发布前检查 of an item: all findings in the title, then all in the body, each field by position.

    ``sensitive_words`` is the deployment's list (blank entries ignored); ``today`` bounds the 身份证 birth
    dates and defaults to the current date. Ids are made unique within the result (see :class:`Finding`).
    """
    words = _clean_words(sensitive_words)
    found = _scan_field(title, "title", words, today) + _scan_field(body, "body", words, today)
    found.sort(key=lambda f: (_FIELD_ORDER[f.field], f.start, f.end, f.kind))
    seen: dict[str, int] = {}
    out = []
    for f in found:
        n = seen[f.id] = seen.get(f.id, 0) + 1
        out.append(f if n == 1 else f.model_copy(update={"id": f"{f.id}-{n}"}))
    return out


def blocks_publication(findings: Iterable[Finding]) -> bool:
    """Whether the findings forbid publishing: any blocking finding (a 密级标志)."""
    return any(f.blocking for f in findings)
