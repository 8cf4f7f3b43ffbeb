"""Disclosure on application (依申请公开): applicants, channels, the outcomes counted in the annual report's
table 三 (收到和处理政府信息公开申请情况), the reply types of Regulation Art. 36, the 信息处理费 of
国办函〔2020〕109号, and the keys of table 四 (政府信息公开行政复议、行政诉讼情况).

Facts and confidence labels ([C], [C2], [D], UNCONFIRMED) are those of the shared domain notes, §2.5–§2.7,
§3.3 and §3.5. Everything here is pure data and arithmetic.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum

from pydantic import BaseModel, ConfigDict

# ---------------------------------------------------------------------------------------------------------
# Table 三 columns: 申请人情况
# ---------------------------------------------------------------------------------------------------------


class ApplicantType(StrEnum):
    """申请人情况: the six applicant columns of table 三, in table order."""

    NATURAL_PERSON = "natural_person"  # 自然人
    COMMERCIAL_ENTERPRISE = "commercial_enterprise"  # 商业企业
    RESEARCH_INSTITUTION = "research_institution"  # 科研机构
    PUBLIC_WELFARE_ORG = "public_welfare_org"  # 社会公益组织
    LEGAL_SERVICE_ORG = "legal_service_org"  # 法律服务机构
    OTHER_ORG = "other_org"  # 其他 (法人或其他组织)


APPLICANT_LABEL_ZH: dict[ApplicantType, str] = {
    ApplicantType.NATURAL_PERSON: "自然人",
    ApplicantType.COMMERCIAL_ENTERPRISE: "商业企业",
    ApplicantType.RESEARCH_INSTITUTION: "科研机构",
    ApplicantType.PUBLIC_WELFARE_ORG: "社会公益组织",
    ApplicantType.LEGAL_SERVICE_ORG: "法律服务机构",
    ApplicantType.OTHER_ORG: "其他",
}

#: the header over all applicant columns
TABLE3_COLUMN_HEADER_ZH = "申请人情况"
#: the header group of the five organisation columns; the official layout has no subtotal column for it
LEGAL_PERSON_GROUP_ZH = "法人或其他组织"
#: the five applicant types under 法人或其他组织
LEGAL_PERSON_TYPES: frozenset[ApplicantType] = frozenset(ApplicantType) - {ApplicantType.NATURAL_PERSON}
#: the grand-total column (总计); not an applicant type
TOTAL_COLUMN = "total"


class Table3Column(BaseModel):
    """One numeric column of table 三. `group` is the header group ("法人或其他组织") or None."""

    model_config = ConfigDict(frozen=True)

    key: str
    label: str
    group: str | None = None


#: the seven numeric columns of table 三, in order: the six applicant types, then 总计
TABLE3_COLUMNS: tuple[Table3Column, ...] = (
    *(
        Table3Column(key=t.value, label=APPLICANT_LABEL_ZH[t], group=None if t is ApplicantType.NATURAL_PERSON
                     else LEGAL_PERSON_GROUP_ZH)
        for t in ApplicantType
    ),
    Table3Column(key=TOTAL_COLUMN, label="总计"),
)

#: the official note in the merged top-left cell (rule T3-1)
TABLE3_NOTE_ZH = "（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）"


# ---------------------------------------------------------------------------------------------------------
# How an application arrived
# ---------------------------------------------------------------------------------------------------------


class Channel(StrEnum):
    """申请方式: how the application reached the agency (also decides the Art. 31 date of receipt)."""

    IN_PERSON = "in_person"  # 当面
    LETTER = "letter"  # 信函
    FAX = "fax"  # 传真
    ONLINE = "online"  # 网络
    EMAIL = "email"  # 电子邮件
    OTHER = "other"  # 其他


CHANNEL_LABEL_ZH: dict[Channel, str] = {
    Channel.IN_PERSON: "当面",
    Channel.LETTER: "信函",
    Channel.FAX: "传真",
    Channel.ONLINE: "网络",
    Channel.EMAIL: "电子邮件",
    Channel.OTHER: "其他",
}


# ---------------------------------------------------------------------------------------------------------
# Table 三 rows: 本年度办理结果
# ---------------------------------------------------------------------------------------------------------


class Outcome(StrEnum):
    """办理结果: how one application was closed — the 21 leaf rows of table 三 (2021 format), in table order.

    Block 三 of the table spans 22 data rows (rowspan=22): these 21 leaves plus （七）总计, which is their sum
    (rule T3-2). Each application is counted once; a split case (区分处理) counts only as `partially_granted`.
    Not to be confused with `contracts.chain.Outcome`, a reviewer's decision.
    """

    GRANTED = "granted"  # （一）予以公开
    PARTIALLY_GRANTED = "partially_granted"  # （二）部分公开
    # （三）不予公开 — the same codes as contracts.exemptions.REJECT_REASONS
    DENIED_STATE_SECRET = "denied_state_secret"
    DENIED_PROHIBITED_BY_LAW = "denied_prohibited_by_law"
    DENIED_SECURITY_STABILITY = "denied_security_stability"
    DENIED_THIRD_PARTY_RIGHTS = "denied_third_party_rights"
    DENIED_INTERNAL_AFFAIRS = "denied_internal_affairs"
    DENIED_PROCESS_INFO = "denied_process_info"
    DENIED_ENFORCEMENT_FILE = "denied_enforcement_file"
    DENIED_ADMIN_QUERY = "denied_admin_query"
    # （四）无法提供
    UNABLE_NOT_HELD = "unable_not_held"
    UNABLE_NEEDS_CREATION = "unable_needs_creation"
    UNABLE_UNCLEAR_AFTER_CORRECTION = "unable_unclear_after_correction"
    # （五）不予处理
    NOT_PROCESSED_PETITION_COMPLAINT = "not_processed_petition_complaint"
    NOT_PROCESSED_DUPLICATE = "not_processed_duplicate"
    NOT_PROCESSED_PUBLICATION = "not_processed_publication"
    NOT_PROCESSED_EXCESSIVE = "not_processed_excessive"
    NOT_PROCESSED_CONFIRM_REISSUE = "not_processed_confirm_reissue"
    # （六）其他处理
    OTHER_NO_CORRECTION = "other_no_correction"
    OTHER_FEE_UNPAID = "other_fee_unpaid"
    OTHER_MISC = "other_misc"


#: the exact row label of each leaf, as printed in the table (numbering included)
OUTCOME_LABEL_ZH: dict[Outcome, str] = {
    Outcome.GRANTED: "（一）予以公开",
    Outcome.PARTIALLY_GRANTED: "（二）部分公开（区分处理的，只计这一情形，不计其他情形）",
    Outcome.DENIED_STATE_SECRET: "1.属于国家秘密",
    Outcome.DENIED_PROHIBITED_BY_LAW: "2.其他法律行政法规禁止公开",
    Outcome.DENIED_SECURITY_STABILITY: "3.危及“三安全一稳定”",
    Outcome.DENIED_THIRD_PARTY_RIGHTS: "4.保护第三方合法权益",
    Outcome.DENIED_INTERNAL_AFFAIRS: "5.属于三类内部事务信息",
    Outcome.DENIED_PROCESS_INFO: "6.属于四类过程性信息",
    Outcome.DENIED_ENFORCEMENT_FILE: "7.属于行政执法案卷",
    Outcome.DENIED_ADMIN_QUERY: "8.属于行政查询事项",
    Outcome.UNABLE_NOT_HELD: "1.本机关不掌握相关政府信息",
    Outcome.UNABLE_NEEDS_CREATION: "2.没有现成信息需要另行制作",
    Outcome.UNABLE_UNCLEAR_AFTER_CORRECTION: "3.补正后申请内容仍不明确",
    Outcome.NOT_PROCESSED_PETITION_COMPLAINT: "1.信访举报投诉类申请",
    Outcome.NOT_PROCESSED_DUPLICATE: "2.重复申请",
    Outcome.NOT_PROCESSED_PUBLICATION: "3.要求提供公开出版物",
    Outcome.NOT_PROCESSED_EXCESSIVE: "4.无正当理由大量反复申请",
    Outcome.NOT_PROCESSED_CONFIRM_REISSUE: "5.要求行政机关确认或重新出具已获取信息",
    Outcome.OTHER_NO_CORRECTION: "1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请",
    Outcome.OTHER_FEE_UNPAID: "2.申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请",
    Outcome.OTHER_MISC: "3.其他",
}


class OutcomeGroup(StrEnum):
    """The result blocks under 三、本年度办理结果. （一） and （二） are single rows; the other four are label-only
    group rows with no numbers and no subtotal."""

    GRANTED = "granted"  # （一）予以公开
    PARTIALLY_GRANTED = "partially_granted"  # （二）部分公开
    DENIED = "denied"  # （三）不予公开
    UNABLE = "unable"  # （四）无法提供
    NOT_PROCESSED = "not_processed"  # （五）不予处理
    OTHER = "other"  # （六）其他处理


#: the block each outcome is counted in
def _group_of(o: Outcome) -> OutcomeGroup:
    for g in OutcomeGroup:
        if o == g or o.startswith(f"{g}_"):
            return g
    raise AssertionError(o)  # pragma: no cover


OUTCOME_GROUP: dict[Outcome, OutcomeGroup] = {o: _group_of(o) for o in Outcome}

#: the label-only rows of table 三 (keys of §2.5 "Group keys"); `results` heads the whole result block
TABLE3_GROUP_LABEL_ZH: dict[str, str] = {
    "results": "三、本年度办理结果",
    OutcomeGroup.DENIED: "（三）不予公开",
    OutcomeGroup.UNABLE: "（四）无法提供",
    OutcomeGroup.NOT_PROCESSED: "（五）不予处理",
    OutcomeGroup.OTHER: "（六）其他处理",
}


class Table3Row(BaseModel):
    """One row of table 三 as rendered.

    - `level`: 0 for 一/二/三/四, 1 for （一）…（七）, 2 for the numbered items under a group.
    - `parent`: the key of the enclosing label row ("results", "denied", …), None at level 0.
    - `has_cells`: the row carries the seven numbers; False only for the label-only group rows.
    - `is_leaf`: the row is an `Outcome`, one of the 21 rows summed into `results_total` (rule T3-2).
    """

    model_config = ConfigDict(frozen=True)

    key: str
    label: str
    level: int
    parent: str | None = None
    has_cells: bool = True
    is_leaf: bool = False


def _leaf(o: Outcome, level: int, parent: str) -> Table3Row:
    return Table3Row(key=o.value, label=OUTCOME_LABEL_ZH[o], level=level, parent=parent, is_leaf=True)


def _group(key: str) -> Table3Row:
    return Table3Row(key=key, label=TABLE3_GROUP_LABEL_ZH[key], level=0 if key == "results" else 1,
                     parent=None if key == "results" else "results", has_cells=False)


def _block(group: OutcomeGroup) -> tuple[Table3Row, ...]:
    return (_group(group), *(_leaf(o, 2, group) for o in Outcome if OUTCOME_GROUP[o] is group))


#: table 三 (2021 format) top to bottom: 30 rows, of which 25 carry numbers (2 + 22 in block 三 + 1)
TABLE3_ROWS: tuple[Table3Row, ...] = (
    Table3Row(key="new_applications", label="一、本年新收政府信息公开申请数量", level=0),
    Table3Row(key="carried_over_from_last_year", label="二、上年结转政府信息公开申请数量", level=0),
    _group("results"),
    _leaf(Outcome.GRANTED, 1, "results"),
    _leaf(Outcome.PARTIALLY_GRANTED, 1, "results"),
    *_block(OutcomeGroup.DENIED),
    *_block(OutcomeGroup.UNABLE),
    *_block(OutcomeGroup.NOT_PROCESSED),
    *_block(OutcomeGroup.OTHER),
    Table3Row(key="results_total", label="（七）总计", level=1, parent="results"),
    Table3Row(key="carried_forward_to_next_year", label="四、结转下年度继续办理", level=0),
)


# ---------------------------------------------------------------------------------------------------------
# Reasons and legal bases
# ---------------------------------------------------------------------------------------------------------

#: outcomes whose answer to the applicant must state the legal reason: everything that withholds some or all
#: of the information (部分公开, 不予公开, 无法提供, 不予处理). 予以公开 needs none; the 其他处理 rows close an
#: application the applicant abandoned (no correction, fee unpaid) or that ended otherwise, so no answer on the
#: merits is given.
REASON_REQUIRED: frozenset[Outcome] = frozenset(
    o for o in Outcome if o is Outcome.PARTIALLY_GRANTED
    or OUTCOME_GROUP[o] in (OutcomeGroup.DENIED, OutcomeGroup.UNABLE, OutcomeGroup.NOT_PROCESSED)
)

#: the article of the 2019 Regulation (国务院令第711号) behind each outcome, where the domain notes (§3.3, §3.5)
#: give one. Not given for `granted`, `not_processed_confirm_reissue` and `other_misc`. `unable_not_held` cites
#: both Art. 36(4) (searched, does not exist) and Art. 36(5) (another agency's to disclose), see `reply_type`.
#: The notes state that the article numbers of §3.3 are from memory: see LEGAL_BASIS_UNCONFIRMED.
LEGAL_BASIS_ZH: dict[Outcome, str] = {
    Outcome.PARTIALLY_GRANTED: "第三十七条",
    Outcome.DENIED_STATE_SECRET: "第十四条",
    Outcome.DENIED_PROHIBITED_BY_LAW: "第十四条",
    Outcome.DENIED_SECURITY_STABILITY: "第十四条",
    Outcome.DENIED_THIRD_PARTY_RIGHTS: "第十五条",
    Outcome.DENIED_INTERNAL_AFFAIRS: "第十六条第一款",
    Outcome.DENIED_PROCESS_INFO: "第十六条第二款",
    Outcome.DENIED_ENFORCEMENT_FILE: "第十六条第二款",
    Outcome.DENIED_ADMIN_QUERY: "第三十六条第（七）项",
    Outcome.UNABLE_NOT_HELD: "第三十六条第（四）项、第（五）项",
    Outcome.UNABLE_NEEDS_CREATION: "第三十八条",
    Outcome.UNABLE_UNCLEAR_AFTER_CORRECTION: "第三十条",
    Outcome.NOT_PROCESSED_PETITION_COMPLAINT: "第三十九条第一款",
    Outcome.NOT_PROCESSED_DUPLICATE: "第三十六条第（六）项",
    Outcome.NOT_PROCESSED_PUBLICATION: "第三十九条第二款",
    Outcome.NOT_PROCESSED_EXCESSIVE: "第三十五条",
    Outcome.OTHER_NO_CORRECTION: "第三十条",
    Outcome.OTHER_FEE_UNPAID: "第四十二条",
}

#: citations the domain notes mark UNCONFIRMED (from memory, or only partly confirmed): check the statute text
#: before printing them in an answer. Confirmed [C]: Art. 36(5)–(7) (an agency guide), Art. 39 para 1, Art. 30
#: (correction) and Art. 42 (fees); the national article for the unpaid-fee withdrawal is UNCONFIRMED.
LEGAL_BASIS_UNCONFIRMED: frozenset[Outcome] = frozenset({
    Outcome.PARTIALLY_GRANTED,  # "UNCONFIRMED as Art. 37"
    Outcome.DENIED_STATE_SECRET,
    Outcome.DENIED_PROHIBITED_BY_LAW,
    Outcome.DENIED_SECURITY_STABILITY,
    Outcome.DENIED_THIRD_PARTY_RIGHTS,
    Outcome.DENIED_INTERNAL_AFFAIRS,
    Outcome.DENIED_PROCESS_INFO,
    Outcome.DENIED_ENFORCEMENT_FILE,
    Outcome.UNABLE_NOT_HELD,  # Art. 36(5) is [C]; the 36(4) variant is [D]
    Outcome.UNABLE_NEEDS_CREATION,
    Outcome.NOT_PROCESSED_PUBLICATION,  # Art. 39 para 2 wording UNCONFIRMED
    Outcome.NOT_PROCESSED_EXCESSIVE,  # Art. 35 only partly [C]
    Outcome.OTHER_FEE_UNPAID,  # withdrawal on non-payment seen only in a Sichuan notice
})


# ---------------------------------------------------------------------------------------------------------
# Art. 36 reply types
# ---------------------------------------------------------------------------------------------------------


class ReplyType(IntEnum):
    """第三十六条: the seven kinds of answer, numbered as the article's items (1)–(7). One answer template each.

    [C2]: paraphrased from an agency's disclosure guide and a provincial portal; the statute text was not read.
    """

    ALREADY_PUBLISHED = 1  # 已经公开: tell the applicant how and where to obtain it
    DISCLOSABLE = 2  # 可以公开: provide it, or tell how, where and when to obtain it
    NOT_DISCLOSED = 3  # 不予公开: tell the applicant and give the reasons
    NOT_EXIST = 4  # 经检索没有: tell the applicant the information does not exist
    NOT_THIS_AGENCY = 5  # 不属于本机关负责公开: say so and why; name the responsible agency if it can be determined
    REPEAT = 6  # 重复申请: already answered, not processed again
    SPECIAL_LAW = 7  # 工商、不动产登记资料等: follow the procedure the special law or regulation sets


REPLY_TYPE_LABEL_ZH: dict[ReplyType, str] = {
    ReplyType.ALREADY_PUBLISHED: "已经公开，告知获取的方式、途径",
    ReplyType.DISCLOSABLE: "可以公开，提供信息或告知获取的方式、途径和时间",
    ReplyType.NOT_DISCLOSED: "不予公开，告知申请人并说明理由",
    ReplyType.NOT_EXIST: "经检索没有所申请公开信息，告知该政府信息不存在",
    ReplyType.NOT_THIS_AGENCY: "不属于本机关负责公开，告知申请人并说明理由，能够确定负责机关的告知其名称、联系方式",
    ReplyType.REPEAT: "重复申请，告知不予重复处理",
    ReplyType.SPECIAL_LAW: "属于工商、不动产登记资料等信息，告知依照有关法律、行政法规的规定办理",
}

#: the default Art. 36 reply type of each outcome; None where the answer rests on another article (Art. 30, 35,
#: 39, 42) or no answer on the merits is given (其他处理). Choices, all [D]:
#:
#: - `granted` → 2; 1 when the information was already published (`reply_type(..., already_published=True)`).
#: - `partially_granted` → 3. A split case (区分处理) is 2 for the part provided and 3 for the part withheld; the
#:   part that needs a template of its own is the refusal with its reasons, so the type is 3.
#: - `denied_*` → 3, except `denied_admin_query` → 7 (special-law records such as 工商/不动产登记).
#: - `unable_not_held` → 4; 5 when another agency is responsible (`reply_type(..., other_agency=...)`).
#: - `unable_needs_creation` → 4: no ready-made information exists (Art. 38: the agency need not create it).
#: - `not_processed_duplicate` → 6.
REPLY_TYPE: dict[Outcome, ReplyType | None] = {
    o: ReplyType.NOT_DISCLOSED if OUTCOME_GROUP[o] is OutcomeGroup.DENIED else None for o in Outcome
} | {
    Outcome.GRANTED: ReplyType.DISCLOSABLE,
    Outcome.PARTIALLY_GRANTED: ReplyType.NOT_DISCLOSED,
    Outcome.DENIED_ADMIN_QUERY: ReplyType.SPECIAL_LAW,
    Outcome.UNABLE_NOT_HELD: ReplyType.NOT_EXIST,
    Outcome.UNABLE_NEEDS_CREATION: ReplyType.NOT_EXIST,
    Outcome.NOT_PROCESSED_DUPLICATE: ReplyType.REPEAT,
}


def reply_type(outcome: Outcome, already_published: bool = False, other_agency: str | None = None) -> ReplyType | None:
    """The Art. 36 reply type of one answer (see REPLY_TYPE for the choices).

    - `already_published`: only with `granted`; gives type 1 (告知获取方式、途径) instead of 2.
    - `other_agency`: only with `unable_not_held`; not None means the information is another agency's to
      disclose, which gives type 5 instead of 4. The string names that agency; it may be empty when the
      responsible agency cannot be determined (Art. 36(5) asks for its name only when it can be).

    Raises ValueError when a flag is given with an outcome it does not apply to.
    """
    outcome = Outcome(outcome)
    if already_published and outcome is not Outcome.GRANTED:
        raise ValueError(f"already_published applies only to {Outcome.GRANTED}, not {outcome} / 仅予以公开可告知已公开")
    if other_agency is not None and outcome is not Outcome.UNABLE_NOT_HELD:
        raise ValueError(f"other_agency applies only to {Outcome.UNABLE_NOT_HELD}, not {outcome} / "
                         "仅“本机关不掌握”可告知负责公开的机关")
    if already_published:
        return ReplyType.ALREADY_PUBLISHED
    if other_agency is not None:
        return ReplyType.NOT_THIS_AGENCY
    return REPLY_TYPE[outcome]


# ---------------------------------------------------------------------------------------------------------
# 信息处理费 (Art. 42; 国办函〔2020〕109号)
# ---------------------------------------------------------------------------------------------------------


class FeeMethod(StrEnum):
    """收费方式: one per application, never both."""

    PER_APPLICATION = "per_application"  # 按件计收: by the applicant's applications in a calendar month
    PER_VOLUME = "per_volume"  # 按量计收: by the pages of one application


FEE_METHOD_LABEL_ZH: dict[FeeMethod, str] = {FeeMethod.PER_APPLICATION: "按件计收", FeeMethod.PER_VOLUME: "按量计收"}

#: per application: the first applications of a calendar month that are free
FREE_APPLICATIONS_PER_MONTH = 10
#: per volume, excess-progressive: (last page of the bracket, yuan per page in it); None = no upper end
VOLUME_BRACKETS: tuple[tuple[int | None, int], ...] = ((30, 0), (100, 10), (200, 20), (None, 40))


def _count(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be ≥ {minimum}, not {value}")
    return value


def fee_per_application(nth_in_month: int) -> int:
    """Yuan charged for the applicant's `nth_in_month` application (1-based) of one calendar month.

    1–10: free; 11–30: 100 each; from 31, +100 per block of 10 ([D]: 31–40 → 200, 41–50 → 300, …).
    The month's total is the sum over its applications, which makes the schedule excess-progressive.
    """
    n = _count("nth_in_month", nth_in_month, 1)
    if n <= FREE_APPLICATIONS_PER_MONTH:
        return 0
    if n <= 30:
        return 100
    return 100 * (1 + (n - 21) // 10)


def fee_per_volume(pages: int) -> int:
    """Yuan charged for one application of `pages` pages, excess-progressive like income-tax brackets: pages
    1–30 free, 31–100 at 10 a page, 101–200 at 20, 201 and over at 40. So 150 pages = 70×10 + 50×20 = 1700."""
    p = _count("pages", pages, 0)
    total, lower = 0, 0
    for upper, rate in VOLUME_BRACKETS:
        top = p if upper is None else min(p, upper)
        if top > lower:
            total += (top - lower) * rate
        if upper is None or p <= upper:
            break
        lower = upper
    return total


def fee(method: FeeMethod, *, nth_in_month: int | None = None, pages: int | None = None) -> int:
    """The fee of one application in yuan, by exactly one method: `nth_in_month` for per_application,
    `pages` for per_volume. Raises ValueError when both or neither are given, or the one given does not
    belong to `method` — the two methods are never combined for one application."""
    method = FeeMethod(method)
    if (nth_in_month is None) == (pages is None):
        raise ValueError("give exactly one of nth_in_month and pages / 按件、按量只能选择其一")
    if method is FeeMethod.PER_APPLICATION:
        if nth_in_month is None:
            raise ValueError("per_application needs nth_in_month / 按件计收须提供当月累计件数")
        return fee_per_application(nth_in_month)
    if pages is None:
        raise ValueError("per_volume needs pages / 按量计收须提供页数")
    return fee_per_volume(pages)


# ---------------------------------------------------------------------------------------------------------
# Table 四: 政府信息公开行政复议、行政诉讼情况
# ---------------------------------------------------------------------------------------------------------


class CaseKind(StrEnum):
    """The three column groups of table 四."""

    ADMINISTRATIVE_REVIEW = "administrative_review"  # 行政复议
    LITIGATION_DIRECT = "litigation_direct"  # 行政诉讼 / 未经复议直接起诉
    LITIGATION_AFTER_REVIEW = "litigation_after_review"  # 行政诉讼 / 复议后起诉


CASE_KIND_LABEL_ZH: dict[CaseKind, str] = {
    CaseKind.ADMINISTRATIVE_REVIEW: "行政复议",
    CaseKind.LITIGATION_DIRECT: "未经复议直接起诉",
    CaseKind.LITIGATION_AFTER_REVIEW: "复议后起诉",
}

#: the top header over each kind: 行政复议 (5 columns) | 行政诉讼 (10 columns)
CASE_KIND_HEADER_ZH: dict[CaseKind, str] = {
    CaseKind.ADMINISTRATIVE_REVIEW: "行政复议",
    CaseKind.LITIGATION_DIRECT: "行政诉讼",
    CaseKind.LITIGATION_AFTER_REVIEW: "行政诉讼",
}


class CaseResult(StrEnum):
    """The four counted columns of each group of table 四 (the fifth, 总计, is their sum)."""

    UPHELD = "upheld"  # 结果维持
    CORRECTED = "corrected"  # 结果纠正
    OTHER = "other"  # 其他结果
    PENDING = "pending"  # 尚未审结


CASE_RESULT_LABEL_ZH: dict[CaseResult, str] = {
    CaseResult.UPHELD: "结果维持",
    CaseResult.CORRECTED: "结果纠正",
    CaseResult.OTHER: "其他结果",
    CaseResult.PENDING: "尚未审结",
}

_TABLE4_PREFIX: dict[CaseKind, str] = {
    CaseKind.ADMINISTRATIVE_REVIEW: "review",
    CaseKind.LITIGATION_DIRECT: "lit_direct",
    CaseKind.LITIGATION_AFTER_REVIEW: "lit_after_review",
}

#: (kind, result) → the cell key, e.g. (ADMINISTRATIVE_REVIEW, UPHELD) → "review_upheld"
TABLE4_KEYS: dict[tuple[CaseKind, CaseResult], str] = {
    (k, r): f"{_TABLE4_PREFIX[k]}_{r.value}" for k in CaseKind for r in CaseResult
}
#: kind → its 总计 cell key (rules T4-1…T4-3: the sum of the kind's four cells)
TABLE4_TOTAL_KEYS: dict[CaseKind, str] = {k: f"{_TABLE4_PREFIX[k]}_total" for k in CaseKind}
#: the 15 cells of table 四's single data row, left to right
TABLE4_COLUMNS: tuple[str, ...] = tuple(
    key for k in CaseKind for key in (*(TABLE4_KEYS[k, r] for r in CaseResult), TABLE4_TOTAL_KEYS[k])
)
