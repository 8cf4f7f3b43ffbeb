"""What the leaders' dashboard reads from the reports service: the pipeline, the report's state, the trends."""

from datetime import date

from tests.e2e.test_applications import register


def test_the_pipeline_lists_waiting_reviews_with_deadlines_and_applications_as_lights(api, people):
    item = api.create(people.author, title="待审信息")
    api.submit(people.author, item["id"])
    app = register(api, people)
    got = api.item(people.author, item["id"])
    import time
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        p = api.http.get(api.reports("/pipeline"), headers=people.viewer, params={"org": people.org}).json()
        if p["position"] >= got["version"] and p["applications"]:
            break
        time.sleep(0.2)
    task = next(t for t in p["tasks"] if t["id"] == item["id"])
    assert task["stage"] == "initial" and task["stage_name"] == "初审" and task["due_on"] and not task["overdue"]
    light = next(a for a in p["applications"] if a["id"] == app["id"])
    assert light["light"] in ("green", "amber", "grey") and light["due_on"] == app["due_on"]
    assert light["subject"] == "2025年公务用车购置数量"  # open, not yet answered: the subject is still shown
    other = api.http.get(api.reports("/pipeline"), headers=people.author, params={"org": "someone-else"})
    assert other.status_code == 403


def test_the_report_state_moves_from_not_started_to_in_review_and_shows_its_rules(api, people):
    office = people.token("zhang.bin", "office")
    status = api.http.get(api.reports("/reports/2025/status"), headers=people.viewer,
                          params={"org": people.org}).json()
    assert status["state"] == "not_started" and status["publish_by"] == "2026-01-31"
    assert any(r["rule"] == "T3-1" and r["ok"] for r in status["rules"])
    api.http.post(api.reports("/reports/2025/submit"), headers=office, params={"org": people.org})
    import time
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status = api.http.get(api.reports("/reports/2025/status"), headers=people.viewer,
                              params={"org": people.org}).json()
        if status["state"] == "in_review":
            break
        time.sleep(0.2)
    assert status["state"] == "in_review" and status["item_id"]


def test_totals_carry_the_months_the_orgs_and_last_year_at_the_same_date(api, people):
    from tests.e2e.test_review_chain import published

    item = published(api, people)
    t = api.totals_after(people.viewer, item["version"], org=people.org)
    month = str(date.today().month)
    assert t["proactive"]["by_month"][month] == 1 and sum(t["proactive"]["by_month"].values()) == 1
    assert t["by_org"] == {people.org: 1}
    assert t["last_year_same_date"]["proactive"] == 0 and len(t["last_year_by_month"]) == 12


def test_the_history_behind_a_number_is_readable_without_personal_data(api, people):
    from tests.e2e.test_review_chain import published

    item = published(api, people)
    h = api.http.get(api.reports(f"/history/item/{item['id']}"), headers=people.viewer).json()
    assert [e["type"] for e in h["events"]][-1] == "item.published" and h["events"][0]["by"] == "zhang.wei"
    app = register(api, people)
    h = api.http.get(api.reports(f"/history/application/{app['id']}"), headers=people.viewer).json()
    assert h["events"][0]["type"] == "application.received" and "applicant" not in h["events"][0]["details"]
    stranger = people.stack.token("v", "other-org", "author")
    r = api.http.get(api.reports(f"/history/item/{item['id']}"), headers={"Authorization": f"Bearer {stranger}"})
    assert r.status_code == 403
