"""contracts.applications against the domain notes §2.5–§2.7, §3.3 and §3.5: table 三 labels and order, the
Art. 36 reply types, the 信息处理费 tiers and the keys of table 四."""

from __future__ import annotations

import pytest

from contracts.applications import (
    APPLICANT_LABEL_ZH,
    CASE_KIND_LABEL_ZH,
    CASE_RESULT_LABEL_ZH,
    CHANNEL_LABEL_ZH,
    LEGAL_BASIS_UNCONFIRMED,
    LEGAL_BASIS_ZH,
    LEGAL_PERSON_GROUP_ZH,
    LEGAL_PERSON_TYPES,
    OUTCOME_GROUP,
    OUTCOME_LABEL_ZH,
    REASON_REQUIRED,
    REPLY_TYPE,
    REPLY_TYPE_LABEL_ZH,
    TABLE3_COLUMNS,
    TABLE3_NOTE_ZH,
    TABLE3_ROWS,
    TABLE4_COLUMNS,
    TABLE4_KEYS,
    TABLE4_TOTAL_KEYS,
    VOLUME_BRACKETS,
    ApplicantType,
    CaseKind,
    CaseResult,
    Channel,
    FeeMethod,
    Outcome,
    OutcomeGroup,
    ReplyType,
    fee,
    fee_per_application,
    fee_per_volume,
    reply_type,
)
from contracts.exemptions import REJECT_REASONS

# table 三, 2021 format, top to bottom, written out from the domain notes §2.5: (key, label, has cells)
T3_EXPECTED: list[tuple[str, str, bool]] = [
    ("new_applications", "一、本年新收政府信息公开申请数量", True),
    ("carried_over_from_last_year", "二、上年结转政府信息公开申请数量", True),
    ("results", "三、本年度办理结果", False),
    ("granted", "（一）予以公开", True),
    ("partially_granted", "（二）部分公开（区分处理的，只计这一情形，不计其他情形）", True),
    ("denied", "（三）不予公开", False),
    ("denied_state_secret", "1.属于国家秘密", True),
    ("denied_prohibited_by_law", "2.其他法律行政法规禁止公开", True),
    ("denied_security_stability", "3.危及“三安全一稳定”", True),
    ("denied_third_party_rights", "4.保护第三方合法权益", True),
    ("denied_internal_affairs", "5.属于三类内部事务信息", True),
    ("denied_process_info", "6.属于四类过程性信息", True),
    ("denied_enforcement_file", "7.属于行政执法案卷", True),
    ("denied_admin_query", "8.属于行政查询事项", True),
    ("unable", "（四）无法提供", False),
    ("unable_not_held", "1.本机关不掌握相关政府信息", True),
    ("unable_needs_creation", "2.没有现成信息需要另行制作", True),
    ("unable_unclear_after_correction", "3.补正后申请内容仍不明确", True),
    ("not_processed", "（五）不予处理", False),
    ("not_processed_petition_complaint", "1.信访举报投诉类申请", True),
    ("not_processed_duplicate", "2.重复申请", True),
    ("not_processed_publication", "3.要求提供公开出版物", True),
    ("not_processed_excessive", "4.无正当理由大量反复申请", True),
    ("not_processed_confirm_reissue", "5.要求行政机关确认或重新出具已获取信息", True),
    ("other", "（六）其他处理", False),
    ("other_no_correction", "1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请", True),
    ("other_fee_unpaid", "2.申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请", True),
    ("other_misc", "3.其他", True),
    ("results_total", "（七）总计", True),
    ("carried_forward_to_next_year", "四、结转下年度继续办理", True),
]
GROUP_KEYS = {"results", "denied", "unable", "not_processed", "other"}
NOT_LEAVES = {"new_applications", "carried_over_from_last_year", "results_total", "carried_forward_to_next_year"}


# ----------------------------------------------------------------------------------------------- table 三


def test_table3_rows_in_order_with_the_exact_labels():
    assert [(r.key, r.label, r.has_cells) for r in TABLE3_ROWS] == T3_EXPECTED


def test_outcomes_are_the_21_leaves_in_table_order():
    leaves = [k for k, _, cells in T3_EXPECTED if cells and k not in NOT_LEAVES]
    assert len(leaves) == 21  # T3-2: results_total sums 21 leaf rows
    assert [o.value for o in Outcome] == leaves
    assert [r.key for r in TABLE3_ROWS if r.is_leaf] == leaves
    assert all(r.is_leaf == (r.key in leaves) for r in TABLE3_ROWS)


def test_block_three_spans_22_data_rows():
    """rowspan=22 in S-FIX25: the 21 leaves plus （七）总计; the label-only group rows carry no numbers."""
    keys = [r.key for r in TABLE3_ROWS]
    block = TABLE3_ROWS[keys.index("results") + 1: keys.index("results_total") + 1]
    assert sum(r.has_cells for r in block) == 22
    assert sum(r.has_cells for r in TABLE3_ROWS) == 25
    assert {r.key for r in TABLE3_ROWS if not r.has_cells} == GROUP_KEYS


def test_outcome_labels_match_the_rows():
    expected = dict((k, label) for k, label, _ in T3_EXPECTED)
    assert set(OUTCOME_LABEL_ZH) == set(Outcome)
    for o in Outcome:
        assert OUTCOME_LABEL_ZH[o] == expected[o.value]


def test_levels_and_parents():
    by_key = {r.key: r for r in TABLE3_ROWS}
    for k in ("new_applications", "carried_over_from_last_year", "results", "carried_forward_to_next_year"):
        assert by_key[k].level == 0 and by_key[k].parent is None
    for k in ("granted", "partially_granted", "denied", "unable", "not_processed", "other", "results_total"):
        assert by_key[k].level == 1 and by_key[k].parent == "results"
    for o in Outcome:
        if o in (Outcome.GRANTED, Outcome.PARTIALLY_GRANTED):
            continue
        prefix = next(g for g in ("denied", "unable", "not_processed", "other") if o.startswith(g + "_"))
        assert by_key[o.value].level == 2 and by_key[o.value].parent == prefix == OUTCOME_GROUP[o]


def test_outcome_groups():
    counts = {g: sum(OUTCOME_GROUP[o] is g for o in Outcome) for g in OutcomeGroup}
    assert counts == {OutcomeGroup.GRANTED: 1, OutcomeGroup.PARTIALLY_GRANTED: 1, OutcomeGroup.DENIED: 8,
                      OutcomeGroup.UNABLE: 3, OutcomeGroup.NOT_PROCESSED: 5, OutcomeGroup.OTHER: 3}
    assert OUTCOME_GROUP[Outcome.NOT_PROCESSED_CONFIRM_REISSUE] is OutcomeGroup.NOT_PROCESSED
    assert OUTCOME_GROUP[Outcome.OTHER_FEE_UNPAID] == "other"
    assert OUTCOME_GROUP[Outcome.GRANTED] == "granted"
    assert OUTCOME_GROUP[Outcome.PARTIALLY_GRANTED] == "partially_granted"


def test_denied_outcomes_are_the_reject_reasons():
    assert {o.value for o in Outcome if OUTCOME_GROUP[o] is OutcomeGroup.DENIED} == set(REJECT_REASONS)


def test_table3_columns():
    assert [(c.key, c.label, c.group) for c in TABLE3_COLUMNS] == [
        ("natural_person", "自然人", None),
        ("commercial_enterprise", "商业企业", "法人或其他组织"),
        ("research_institution", "科研机构", "法人或其他组织"),
        ("public_welfare_org", "社会公益组织", "法人或其他组织"),
        ("legal_service_org", "法律服务机构", "法人或其他组织"),
        ("other_org", "其他", "法人或其他组织"),
        ("total", "总计", None),
    ]
    assert [t.value for t in ApplicantType] == [c.key for c in TABLE3_COLUMNS[:6]]
    assert {t: APPLICANT_LABEL_ZH[t] for t in ApplicantType} == {t: c.label for t, c in zip(ApplicantType, TABLE3_COLUMNS,
                                                                                              strict=False)}
    assert LEGAL_PERSON_GROUP_ZH == "法人或其他组织"
    assert len(LEGAL_PERSON_TYPES) == 5 and ApplicantType.NATURAL_PERSON not in LEGAL_PERSON_TYPES
    assert TABLE3_NOTE_ZH == "（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）"


def test_channels():
    assert {c.value: CHANNEL_LABEL_ZH[c] for c in Channel} == {
        "in_person": "当面", "letter": "信函", "fax": "传真", "online": "网络", "email": "电子邮件", "other": "其他"}


# ------------------------------------------------------------------------------------- reasons and articles


def test_reason_required():
    assert Outcome.PARTIALLY_GRANTED in REASON_REQUIRED
    assert Outcome.GRANTED not in REASON_REQUIRED
    for o in Outcome:
        group = OUTCOME_GROUP[o]
        if group in (OutcomeGroup.DENIED, OutcomeGroup.UNABLE, OutcomeGroup.NOT_PROCESSED):
            assert o in REASON_REQUIRED, o
        if group is OutcomeGroup.OTHER:
            assert o not in REASON_REQUIRED, o
    assert len(REASON_REQUIRED) == 1 + 8 + 3 + 5


def test_legal_basis():
    assert LEGAL_BASIS_ZH[Outcome.DENIED_STATE_SECRET] == "第十四条"
    assert LEGAL_BASIS_ZH[Outcome.DENIED_THIRD_PARTY_RIGHTS] == "第十五条"
    assert LEGAL_BASIS_ZH[Outcome.DENIED_INTERNAL_AFFAIRS] == "第十六条第一款"
    assert LEGAL_BASIS_ZH[Outcome.DENIED_ENFORCEMENT_FILE] == "第十六条第二款"
    assert LEGAL_BASIS_ZH[Outcome.DENIED_ADMIN_QUERY] == "第三十六条第（七）项"
    assert LEGAL_BASIS_ZH[Outcome.NOT_PROCESSED_DUPLICATE] == "第三十六条第（六）项"
    assert LEGAL_BASIS_ZH[Outcome.UNABLE_NEEDS_CREATION] == "第三十八条"
    assert LEGAL_BASIS_ZH[Outcome.NOT_PROCESSED_PETITION_COMPLAINT] == "第三十九条第一款"
    assert LEGAL_BASIS_ZH[Outcome.NOT_PROCESSED_EXCESSIVE] == "第三十五条"
    assert LEGAL_BASIS_ZH[Outcome.OTHER_NO_CORRECTION] == LEGAL_BASIS_ZH[Outcome.UNABLE_UNCLEAR_AFTER_CORRECTION] == "第三十条"
    assert LEGAL_BASIS_ZH[Outcome.OTHER_FEE_UNPAID] == "第四十二条"
    # the doc gives no article for these
    assert not {Outcome.GRANTED, Outcome.NOT_PROCESSED_CONFIRM_REISSUE, Outcome.OTHER_MISC} & set(LEGAL_BASIS_ZH)
    # every reason-required outcome but one has a citation; unsure ones are marked
    assert REASON_REQUIRED - set(LEGAL_BASIS_ZH) == {Outcome.NOT_PROCESSED_CONFIRM_REISSUE}
    assert set(LEGAL_BASIS_UNCONFIRMED) <= set(LEGAL_BASIS_ZH)
    assert Outcome.PARTIALLY_GRANTED in LEGAL_BASIS_UNCONFIRMED
    assert Outcome.NOT_PROCESSED_PETITION_COMPLAINT not in LEGAL_BASIS_UNCONFIRMED  # [C] Art. 39 para 1


# ---------------------------------------------------------------------------------------------- reply types


def test_reply_types_are_art36_items():
    assert [int(t) for t in ReplyType] == list(range(1, 8))
    assert set(REPLY_TYPE_LABEL_ZH) == set(ReplyType)
    assert set(REPLY_TYPE) == set(Outcome)


@pytest.mark.parametrize(("outcome", "expected"), [
    (Outcome.GRANTED, ReplyType.DISCLOSABLE),
    (Outcome.PARTIALLY_GRANTED, ReplyType.NOT_DISCLOSED),
    (Outcome.DENIED_STATE_SECRET, ReplyType.NOT_DISCLOSED),
    (Outcome.DENIED_PROCESS_INFO, ReplyType.NOT_DISCLOSED),
    (Outcome.DENIED_ENFORCEMENT_FILE, ReplyType.NOT_DISCLOSED),
    (Outcome.DENIED_ADMIN_QUERY, ReplyType.SPECIAL_LAW),
    (Outcome.UNABLE_NOT_HELD, ReplyType.NOT_EXIST),
    (Outcome.UNABLE_NEEDS_CREATION, ReplyType.NOT_EXIST),
    (Outcome.NOT_PROCESSED_DUPLICATE, ReplyType.REPEAT),
    (Outcome.UNABLE_UNCLEAR_AFTER_CORRECTION, None),
    (Outcome.NOT_PROCESSED_PETITION_COMPLAINT, None),
    (Outcome.NOT_PROCESSED_EXCESSIVE, None),
    (Outcome.OTHER_NO_CORRECTION, None),
    (Outcome.OTHER_FEE_UNPAID, None),
    (Outcome.OTHER_MISC, None),
])
def test_reply_type_defaults(outcome, expected):
    assert reply_type(outcome) is expected
    assert REPLY_TYPE[outcome] is expected


def test_reply_type_variants():
    assert reply_type(Outcome.GRANTED, already_published=True) is ReplyType.ALREADY_PUBLISHED
    assert reply_type("granted", True) is ReplyType.ALREADY_PUBLISHED
    assert reply_type(Outcome.UNABLE_NOT_HELD, other_agency="某市自然资源局") is ReplyType.NOT_THIS_AGENCY
    assert reply_type(Outcome.UNABLE_NOT_HELD, other_agency="") is ReplyType.NOT_THIS_AGENCY  # agency not determinable


def test_reply_type_refuses_flags_that_do_not_apply():
    with pytest.raises(ValueError):
        reply_type(Outcome.PARTIALLY_GRANTED, already_published=True)
    with pytest.raises(ValueError):
        reply_type(Outcome.UNABLE_NEEDS_CREATION, other_agency="某局")
    with pytest.raises(ValueError):
        reply_type(Outcome.GRANTED, other_agency="某局")
    with pytest.raises(ValueError):
        reply_type("no_such_outcome")


# ------------------------------------------------------------------------------------------------------ fees


@pytest.mark.parametrize(("nth", "yuan"), [
    (1, 0), (10, 0), (11, 100), (30, 100), (31, 200), (40, 200), (41, 300), (50, 300), (51, 400), (60, 400), (61, 500),
])
def test_fee_per_application_tiers(nth, yuan):
    assert fee_per_application(nth) == yuan
    assert fee(FeeMethod.PER_APPLICATION, nth_in_month=nth) == yuan


def test_fee_per_application_month_total_is_excess_progressive():
    assert sum(fee_per_application(n) for n in range(1, 36)) == 20 * 100 + 5 * 200


@pytest.mark.parametrize(("pages", "yuan"), [
    (0, 0), (1, 0), (30, 0), (31, 10), (100, 700), (101, 720), (150, 1700), (200, 2700), (201, 2740), (250, 4700),
])
def test_fee_per_volume_brackets(pages, yuan):
    assert fee_per_volume(pages) == yuan
    assert fee(FeeMethod.PER_VOLUME, pages=pages) == yuan


def test_volume_brackets():
    assert VOLUME_BRACKETS == ((30, 0), (100, 10), (200, 20), (None, 40))


@pytest.mark.parametrize("kwargs", [
    {}, {"nth_in_month": 11, "pages": 40},
])
@pytest.mark.parametrize("method", list(FeeMethod))
def test_fee_refuses_both_or_neither(method, kwargs):
    with pytest.raises(ValueError):
        fee(method, **kwargs)


def test_fee_refuses_the_other_methods_argument():
    with pytest.raises(ValueError):
        fee(FeeMethod.PER_APPLICATION, pages=40)
    with pytest.raises(ValueError):
        fee(FeeMethod.PER_VOLUME, nth_in_month=11)


def test_fee_refuses_bad_counts():
    with pytest.raises(ValueError):
        fee_per_application(0)
    with pytest.raises(ValueError):
        fee_per_volume(-1)
    with pytest.raises(TypeError):
        fee_per_volume(1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        fee_per_application(True)
    with pytest.raises(ValueError):
        fee("by_weight", pages=3)  # type: ignore[arg-type]


# -------------------------------------------------------------------------------------------------- table 四


def test_table4_keys():
    assert TABLE4_COLUMNS == (
        "review_upheld", "review_corrected", "review_other", "review_pending", "review_total",
        "lit_direct_upheld", "lit_direct_corrected", "lit_direct_other", "lit_direct_pending", "lit_direct_total",
        "lit_after_review_upheld", "lit_after_review_corrected", "lit_after_review_other", "lit_after_review_pending",
        "lit_after_review_total",
    )
    assert TABLE4_KEYS[CaseKind.ADMINISTRATIVE_REVIEW, CaseResult.UPHELD] == "review_upheld"
    assert TABLE4_KEYS[CaseKind.LITIGATION_DIRECT, CaseResult.PENDING] == "lit_direct_pending"
    assert TABLE4_KEYS[CaseKind.LITIGATION_AFTER_REVIEW, CaseResult.CORRECTED] == "lit_after_review_corrected"
    assert len(TABLE4_KEYS) == 12
    assert TABLE4_TOTAL_KEYS == {CaseKind.ADMINISTRATIVE_REVIEW: "review_total", CaseKind.LITIGATION_DIRECT: "lit_direct_total",
                                 CaseKind.LITIGATION_AFTER_REVIEW: "lit_after_review_total"}


def test_table4_labels():
    assert [CASE_KIND_LABEL_ZH[k] for k in CaseKind] == ["行政复议", "未经复议直接起诉", "复议后起诉"]
    assert [CASE_RESULT_LABEL_ZH[r] for r in CaseResult] == ["结果维持", "结果纠正", "其他结果", "尚未审结"]
    assert [r.value for r in CaseResult] == ["upheld", "corrected", "other", "pending"]
