"""Table 三 is counted from the register, so its arithmetic holds for any history of applications."""

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlmodel import Session

from contracts.applications import ApplicantType, Outcome
from gongkai.db import create_tables, make_engine
from services.reports.projections import ReportApplication, applications_table

LEAVES = [o.value for o in Outcome]
COLUMNS = [t.value for t in ApplicantType]


@st.composite
def applications(draw):
    received = draw(st.dates(min_value=date(2022, 1, 1), max_value=date(2026, 12, 31)))
    finished = draw(st.none() | st.dates(min_value=received, max_value=date(2027, 6, 30)))
    return ReportApplication(
        id=str(draw(st.uuids())), org=draw(st.sampled_from(["a", "b"])),
        applicant_type=draw(st.sampled_from(COLUMNS)), received_on=received, received_year=received.year,
        finished_on=finished, finished_year=finished.year if finished else None,
        outcome=draw(st.sampled_from(LEAVES)) if finished else None)


@settings(max_examples=60, deadline=None)
@given(st.lists(applications(), max_size=40, unique_by=lambda a: a.id))
def test_t3_rules_hold_and_last_years_carried_forward_is_this_years_carried_over(apps):
    engine = make_engine("sqlite://")
    create_tables(engine, [ReportApplication])
    with Session(engine) as s:
        s.add_all(apps)
        s.commit()
        tables = {y: applications_table(s, year=y, org=o) for y in range(2022, 2028) for o in [None]}
        per_org = {o: applications_table(s, year=2025, org=o) for o in ("a", "b")}
    for year, t in tables.items():
        for c in [*COLUMNS, "total"]:
            # T3-1: new + carried over = results + carried forward, column by column
            assert t["new_applications"][c] + t["carried_over_from_last_year"][c] == \
                t["results_total"][c] + t["carried_forward_to_next_year"][c]
            # T3-2: results_total is the sum of the leaves
            assert t["results_total"][c] == sum(t[leaf][c] for leaf in LEAVES)
        for row in t.values():  # T3-3 and T3-4
            assert row["total"] == sum(row[c] for c in COLUMNS) and min(row.values()) >= 0
        if year - 1 in tables:  # X-1, by construction
            assert t["carried_over_from_last_year"] == tables[year - 1]["carried_forward_to_next_year"]
    # each application counted once: the orgs add up to the whole
    for row, cells in tables[2025].items():
        assert cells["total"] == per_org["a"][row]["total"] + per_org["b"][row]["total"]
    # every application received up to a year is new in exactly one year
    assert sum(tables[y]["new_applications"]["total"] for y in range(2022, 2027)) == len(apps)
