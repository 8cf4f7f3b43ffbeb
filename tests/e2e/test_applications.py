"""依申请公开 through HTTP on the running stack: the register, personal data, the legal clock, answers through
the review chain, fees, the reply letter, and table 三 in /totals."""

import time
from datetime import date

from tests.e2e.conftest import People


def register(api, people, **fields) -> dict:
    body = {"applicant_type": "natural_person", "received_on": date.today().isoformat(), "channel": "online",
            "subject": "2025年公务用车购置数量", "content": "请提供2025年本单位公务用车购置数量",
            "applicant": {"name": "王某", "id_number": "110105194912310029", "phone": "13800000000"}, **fields}
    r = api.http.post(api.items("/applications"), headers=people.token("zhang.bin", "office"), json=body)
    assert r.status_code == 201, r.text
    return r.json()


def office(people: People) -> dict:
    return people.token("zhang.bin", "office")


def answer(api, people, app_id: str, outcome: str = "granted", **extra):
    return api.http.post(api.items(f"/applications/{app_id}/answer"), headers=office(people),
                         json={"outcome": outcome, "body": "现将相关信息提供如下：……", **extra})


def test_an_answer_goes_through_the_chain_is_sent_and_counted_in_table_3(api, people):
    year = date.today().year
    app = register(api, people, applicant_type="commercial_enterprise")
    assert app["status"] == "open" and app["due_on"]
    assert answer(api, people, app["id"]).status_code == 202
    got = api.http.get(api.items(f"/applications/{app['id']}"), headers=office(people)).json()
    assert got["status"] == "in_review" and got["stage"] == "initial"
    tasks = api.tasks_after(people.officer, got["version"])
    assert any(t["id"] == app["id"] and t["aggregate"] == "application" for t in tasks)
    r = api.http.post(api.reviews(f"/applications/{app['id']}/decisions"), headers=people.officer,
                      json={"stage": "initial", "outcome": "approve"})
    assert r.status_code == 200, r.text
    r = api.http.post(api.reviews(f"/applications/{app['id']}/decisions"), headers=people.head,
                      json={"stage": "recheck", "outcome": "approve"})
    assert r.status_code == 200 and r.json()["status"] == "answered"
    got = api.http.get(api.items(f"/applications/{app['id']}"), headers=office(people)).json()
    assert got["status"] == "answered" and got["outcome"] == "granted" and got["finished_on"]
    t = api.totals_after(people.viewer, got["version"], year=year, org=people.org)["applications"]
    assert t["new"] == 1 and t["results"]["granted"] == 1 and t["carried_forward"] == 0
    assert t["table3"]["granted"]["commercial_enterprise"] == 1
    behind = api.http.get(api.reports("/totals/explain"), headers=people.viewer,
                          params={"year": year, "org": people.org, "key": "applications.table3.granted.total"}).json()
    assert behind["ids"] == [app["id"]] and behind["aggregate"] == "application"
    assert api.http.get(api.reports("/totals/explain"), headers=people.viewer,
                        params={"org": people.org, "key": "nonsense"}).status_code == 422
    letter = api.http.get(api.items(f"/applications/{app['id']}/letter"), headers=office(people))
    assert letter.status_code == 200 and letter.content[:2] == b"PK"  # a real .docx (zip)


def test_applicant_data_is_read_only_by_the_office_and_the_reviewers_of_the_application(api, people):
    app = register(api, people)
    for who in (people.viewer, people.author, people.officer):
        got = api.http.get(api.items(f"/applications/{app['id']}"), headers=who).json()
        assert got["applicant"] is None and got["applicant_redacted"] and got["content"] is None
    assert api.http.get(api.items(f"/applications/{app['id']}/letter"), headers=people.viewer).status_code == 403
    answer(api, people, app["id"])
    seen = api.http.get(api.items(f"/applications/{app['id']}"), headers=people.officer).json()
    assert seen["applicant"]["name"] == "王某"  # a reviewer of this application, while it is under review
    other = People(people.stack, "elsewhere")
    assert api.http.get(api.items(f"/applications/{app['id']}"), headers=other.viewer).status_code == 403


def test_only_the_office_registers_and_the_drafter_never_approves_the_answer(api, people):
    r = api.http.post(api.items("/applications"), headers=people.author,
                      json={"applicant_type": "natural_person", "received_on": date.today().isoformat(),
                            "subject": "x"})
    assert r.status_code == 403
    app = register(api, people)
    both = people.token("zhang.bin", "office", "officer")
    answer(api, people, app["id"])
    r = api.http.post(api.reviews(f"/applications/{app['id']}/decisions"), headers=both,
                      json={"stage": "initial", "outcome": "approve"})
    assert r.status_code == 403 and r.json()["error"] == "author_cannot_decide"


def test_a_refusal_needs_its_legal_reason_and_automatic_outcomes_cannot_be_chosen(api, people):
    app = register(api, people)
    assert answer(api, people, app["id"], "denied_process_info").status_code == 422
    assert answer(api, people, app["id"], "other_no_correction").status_code == 409
    assert answer(api, people, app["id"], "no_such_outcome").status_code == 422
    r = answer(api, people, app["id"], "denied_process_info", reason="属于过程性信息")
    assert r.status_code == 202


def test_the_clock_correction_restarts_it_and_an_extension_needs_a_section_head(api, people):
    # received last September: in the past whenever this runs, in a year the calendar knows
    app = register(api, people, received_on=date(date.today().year - 1, 9, 1).isoformat())
    first_due = app["due_on"]
    assert first_due and "20个工作日" in app["clock"]["explanation"]
    step = lambda who, **b: api.http.post(api.items(f"/applications/{app['id']}/clock"), headers=who, json=b)  # noqa: E731
    on = date(date.today().year - 1, 9, 10).isoformat()
    assert step(office(people), kind="extended", on=on, days=10).status_code == 403
    r = step(people.head, kind="extended", on=on, days=10)
    assert r.status_code == 200 and r.json()["due_on"] > first_due and r.json()["clock"]["extended_by"] == 10
    r = step(people.head, kind="extended", on=on, days=5)
    assert r.status_code == 409  # one extension only (Art. 33)
    assert "20" in r.json()["message"] or r.json()["error"] == "clock_refused"


def test_an_unanswered_correction_ends_the_application_as_other_no_correction(api, people):
    year = date.today().year
    # received last year, so the window ran out long ago whenever this runs; it ends this year
    app = register(api, people, received_on=date(year - 1, 3, 2).isoformat(), applicant_type="other_org")
    r = api.http.post(api.items(f"/applications/{app['id']}/clock"), headers=office(people),
                      json={"kind": "correction_requested", "on": date(year - 1, 3, 4).isoformat(),
                            "note": "请明确年份"})
    assert r.status_code == 200 and r.json()["clock"]["correction_window_due_on"]
    # the window ran out long ago: the application's clock workflow ends it by itself, as a recorded event
    deadline = time.monotonic() + 20
    while (got := api.http.get(api.items(f"/applications/{app['id']}"), headers=office(people)).json())[
            "status"] != "closed" and time.monotonic() < deadline:
        time.sleep(0.3)
    assert got["status"] == "closed" and got["outcome"] == "other_no_correction"
    closed = [h for h in got["history"] if h["type"] == "application.closed"]
    assert len(closed) == 1 and closed[0]["actor"]["user"] == "system"
    assert api.http.post(api.items(f"/applications/{app['id']}/expire"), headers=office(people)).status_code == 409
    t = api.totals_after(people.viewer, got["version"], year=year, org=people.org)["applications"]
    assert t["results"]["other_no_correction"] == 1 and t["table3"]["other_no_correction"]["other_org"] == 1


def test_fees_follow_the_tiers_and_one_notice_per_application(api, people):
    app = register(api, people)
    r = api.http.post(api.items(f"/applications/{app['id']}/fee"), headers=office(people),
                      json={"on": date.today().isoformat(), "method": "per_volume", "pages": 150})
    assert r.status_code == 200 and r.json()["fee"]["amount_yuan"] == 1700
    r = api.http.post(api.items(f"/applications/{app['id']}/fee"), headers=office(people),
                      json={"on": date.today().isoformat(), "method": "per_application", "nth_in_month": 11})
    assert r.status_code == 409
    other = register(api, people)
    r = api.http.post(api.items(f"/applications/{other['id']}/fee"), headers=office(people),
                      json={"on": date.today().isoformat(), "method": "per_application", "nth_in_month": 11,
                            "pages": 40})
    assert r.status_code == 422  # never both methods for one application


def test_reconsideration_and_litigation_fill_table_4_and_proposals_are_counted(api, people):
    year = date.today().year
    app = register(api, people)
    case = lambda **b: api.http.post(api.items(f"/applications/{app['id']}/cases"), headers=office(people), json=b)  # noqa: E731
    r = case(kind="administrative_review", filed_on=date.today().isoformat())
    assert r.status_code == 201 and r.json()["result"] == "pending"
    review_id = r.json()["case_id"]
    assert case(kind="litigation_direct", filed_on=date.today().isoformat(), result="upheld",
                decided_on=date.today().isoformat()).status_code == 201
    assert case(kind="litigation_direct", filed_on=date.today().isoformat(), result="upheld").status_code == 422
    r = api.http.post(api.items(f"/applications/{app['id']}/cases/{review_id}"), headers=office(people),
                      json={"result": "corrected", "decided_on": date.today().isoformat()})
    assert r.status_code == 200 and r.json()["result"] == "corrected"
    p = api.http.post(api.items("/proposals"), headers=office(people),
                      json={"kind": "npc_suggestion", "received_on": date.today().isoformat(), "title": "关于节能的建议"})
    assert p.status_code == 201
    a = api.http.post(api.items(f"/proposals/{p.json()['id']}/answer"), headers=office(people),
                      json={"answered_on": date.today().isoformat()})
    assert a.status_code == 200
    time_enough = api.totals_after(people.viewer, a.json()["version"], year=year, org=people.org)
    cases = time_enough["cases"]
    assert cases["review_corrected"] == 1 and cases["review_total"] == 1 and cases["review_pending"] == 0
    assert cases["lit_direct_upheld"] == 1 and cases["lit_direct_total"] == 1
    assert time_enough["proposals"]["npc_suggestion"] == {"received": 1, "answered": 1}
    assert time_enough["proposals"]["cppcc_proposal"] == {"received": 0, "answered": 0}


def test_the_per_application_fee_counts_the_applicants_applications_in_the_month(api, people):
    same = {"applicant": {"name": "李某", "id_number": "370303199001011234"}}
    apps = [register(api, people, **same) for _ in range(11)]
    deadline = time.monotonic() + 10
    while len(api.http.get(api.items("/applications"), headers=office(people)).json()["applications"]) < 11:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    first = api.http.post(api.items(f"/applications/{apps[0]['id']}/fee"), headers=office(people),
                          json={"on": date.today().isoformat(), "method": "per_application"})
    assert first.status_code == 200 and first.json()["fee"] == {**first.json()["fee"], "nth_in_month": 1,
                                                                "amount_yuan": 0}
    eleventh = api.http.post(api.items(f"/applications/{apps[10]['id']}/fee"), headers=office(people),
                             json={"on": date.today().isoformat(), "method": "per_application"})
    assert eleventh.json()["fee"]["nth_in_month"] == 11 and eleventh.json()["fee"]["amount_yuan"] == 100
    listed = api.http.get(api.items("/applications"), headers=office(people)).json()["applications"]
    assert all("applicant" not in row and "applicant_key" not in row for row in listed)
    assert api.http.get(api.items("/applications"), headers=people.author).status_code == 403
