"""Every table rule of the domain notes (§2.7) with an example that breaks it, and the cell it names."""

import pytest

from contracts.applications import ApplicantType, Outcome
from services.reports.report_data import ReportData, Section2
from services.reports.rules import blocking, check

COLUMNS = [t.value for t in ApplicantType]


def sound() -> ReportData:
    rows = ["new_applications", "carried_over_from_last_year", *[o.value for o in Outcome], "results_total",
            "carried_forward_to_next_year"]
    table = {r: dict.fromkeys([*COLUMNS, "total"], 0) for r in rows}
    for row, n in (("new_applications", 3), ("carried_over_from_last_year", 1), ("granted", 2), ("results_total", 2),
                   ("carried_forward_to_next_year", 2)):
        table[row]["natural_person"] = table[row]["total"] = n
    cases = {"review_upheld": 1, "review_corrected": 0, "review_other": 0, "review_pending": 1, "review_total": 2,
             "lit_direct_upheld": 0, "lit_direct_corrected": 0, "lit_direct_other": 0, "lit_direct_pending": 0,
             "lit_direct_total": 0, "lit_after_review_upheld": 1, "lit_after_review_corrected": 0,
             "lit_after_review_other": 0, "lit_after_review_pending": 0, "lit_after_review_total": 1}
    s2 = Section2(rules=dict.fromkeys(["issued_this_year", "repealed_this_year", "currently_valid"], 0),
                  normative_documents=dict.fromkeys(["issued_this_year", "repealed_this_year", "currently_valid"], 0),
                  administrative_licensing=0, administrative_penalty=0, administrative_coercion=0,
                  fee_amount_wan_yuan=0.0)
    return ReportData(year=2025, org="o", org_name="某单位", applications=table, review_litigation=cases, section2=s2)


def failed(data: ReportData, previous: ReportData | None = None) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for r in check(data, previous):
        if not r.ok:
            out.setdefault(r.rule, []).append(r.cell)
    return out


def test_a_sound_report_passes_every_rule():
    assert failed(sound()) == {} and blocking(check(sound())) == []


def broken(mutate) -> ReportData:
    data = sound()
    mutate(data)
    return data


@pytest.mark.parametrize("rule,mutate,cell", [
    ("T3-1", lambda d: d.applications["new_applications"].update(natural_person=4, total=4),
     "applications[*][natural_person]"),
    ("T3-2", lambda d: d.applications["granted"].update(natural_person=1, total=1),
     "applications[results_total][natural_person]"),
    ("T3-3", lambda d: d.applications["granted"].update(total=3), "applications[granted][total]"),
    ("T3-4", lambda d: d.applications["other_misc"].update(other_org=-1), "applications[other_misc][other_org]"),
    ("T4-1", lambda d: d.review_litigation.update(review_total=3), "review_litigation[review_total]"),
    ("T4-2", lambda d: d.review_litigation.update(lit_direct_pending=2), "review_litigation[lit_direct_total]"),
    ("T4-3", lambda d: d.review_litigation.update(lit_after_review_total=0),
     "review_litigation[lit_after_review_total]"),
    ("T2-1", lambda d: setattr(d.section2, "administrative_penalty", -2), "section2.administrative_penalty"),
])
def test_each_hard_rule_fails_on_its_broken_cell_and_blocks_the_report(rule, mutate, cell):
    data = broken(mutate)
    assert cell in failed(data)[rule]
    assert any(r.rule == rule for r in blocking(check(data)))


def test_fee_amounts_have_at_most_four_decimals():
    assert "T2-1" in failed(broken(lambda d: setattr(d.section2, "fee_amount_wan_yuan", 1.23456)))


def test_soft_checks_warn_but_do_not_block():
    last = sound()
    now = broken(lambda d: d.applications["carried_over_from_last_year"].update(natural_person=1, total=1))
    last.applications["carried_forward_to_next_year"].update(natural_person=5, total=5)
    assert "X-1" in failed(now, last)
    copied = sound()
    copied.narrative["problems_improvements"] = "公开内容不够及时。"
    previous = sound()
    previous.narrative["problems_improvements"] = "公开内容不够及时。"
    assert failed(copied, previous)["X-9"] == ["narrative.problems_improvements"]
    assert "X-6" in failed(ReportData(year=2025, org="o", org_name="x"))  # table 二 not recorded
    assert blocking(check(copied, previous)) == []


def test_the_committed_report_schema_matches_the_code_and_validates_a_report():
    import json

    import jsonschema

    from services.reports import schema
    from services.reports.layouts.render import render

    assert schema.PATH.read_text(encoding="utf-8") == schema.render(), "run: python -m services.reports.schema"
    jsonschema.validate(json.loads(render(sound(), "2021", "json")), json.loads(schema.render()))


def test_the_other_soft_checks_warn():
    last, now = sound(), sound()
    last.section2.normative_documents.update(currently_valid=10)
    now.section2.normative_documents.update(issued_this_year=3, repealed_this_year=1, currently_valid=15)
    assert failed(now, last)["X-2"] == ["section2.normative_documents.currently_valid"]  # expected 12
    assert "X-3" in failed(broken(lambda d: setattr(d.section2, "fee_amount_wan_yuan", 25000.0)))
    charged = broken(lambda d: setattr(d.fees, "charged_count", 1))
    assert "X-4" in failed(charged)
    charged.narrative["other_matters"] = "本年度收取信息处理费100元。"
    assert "X-4" not in failed(charged)
    assert blocking(check(now, last)) == []
