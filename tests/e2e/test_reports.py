"""The annual report from recorded events, through HTTP and the CLI, on the running stack."""

import subprocess
import sys
from pathlib import Path

import docx

from gongkai.demo import seed_records
from tests.e2e.conftest import People

GONGKAI = str(Path(sys.executable).parent / "gongkai")


def test_the_seeds_2018_report_is_reproduced_from_the_imported_figures_with_exact_counts(api, stack):
    seed = People(stack, "seed-unit")
    r = api.http.post(api.items("/import"), headers=seed.token("zhang.bin", "office"),
                      json={"items": seed_records()})
    assert r.status_code == 201 and len(r.json()["created"]) == 153
    head = max(api.item(seed.token("zhang.bin", "office"), i)["version"] for i in r.json()["created"][-3:])
    api.totals_after(seed.viewer, head, year=2018, org="seed-unit")
    md = api.http.get(api.reports("/reports/2018"), headers=seed.viewer,
                      params={"org": "seed-unit", "template": "2018", "format": "md"})
    assert md.status_code == 200, md.text
    text = md.text
    for sentence in ("报告全文共由十三部分组成", "共累计主动公开信息150条", "其中机构职能类4条，法规公文28条",
                     "发布解读3条", "未收到任何信息公开申请", "未收取相关费用"):
        assert sentence in text, sentence
    assert "余条" not in text
    report = api.http.get(api.reports("/reports/2018"), headers=seed.viewer,
                          params={"org": "seed-unit", "template": "2021", "format": "json"}).json()
    assert report["blocking"] == 0 and all(r["ok"] for r in report["rules"] if r["rule"].startswith("T"))
    assert report["tables"]["proactive"]["by_category"]["department_updates"] == 65


def test_the_2021_report_in_word_has_table_3_with_the_years_applications(api, people, tmp_path):
    from tests.e2e.test_applications import answer, office, register

    app = register(api, people, applicant_type="legal_service_org")
    answer(api, people, app["id"])
    api.http.post(api.reviews(f"/applications/{app['id']}/decisions"), headers=people.officer,
                  json={"stage": "initial", "outcome": "approve"})
    r = api.http.post(api.reviews(f"/applications/{app['id']}/decisions"), headers=people.head,
                      json={"stage": "recheck", "outcome": "approve"})
    assert r.json()["status"] == "answered"
    version = api.http.get(api.items(f"/applications/{app['id']}"), headers=office(people)).json()["version"]
    api.totals_after(people.viewer, version, org=people.org)
    out = tmp_path / "report.docx"
    year = str(__import__("datetime").date.today().year)
    done = subprocess.run([GONGKAI, "report", year, "--org", people.org, "--template", "2021", "--format", "docx",
                           "-o", str(out)], env=people.stack.env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    document = docx.Document(str(out))
    cells = [[c.text for c in row.cells] for table in document.tables for row in table.rows]
    granted = next(row for row in cells if any(c.strip().startswith("（一）予以公开") for c in row))
    assert granted[-1] == "1"  # 总计 column
    assert any("法律服务机构" in c for row in cells for c in row)


def test_narrative_texts_appear_in_the_report_and_a_copy_of_last_years_is_a_warning(api, people):
    office = people.token("zhang.bin", "office")
    put = lambda year, text: api.http.put(api.items(f"/report-texts/{year}/problems_improvements"),  # noqa: E731
                                          headers=office, json={"text": text})
    last_year = "信息公开内容不够及时，重点领域信息公开不够全面，信息公开方式有待创新。"
    assert put(2024, last_year).status_code == 200
    offered = api.http.get(api.items("/report-texts/2025"), headers=office).json()
    assert offered["previous"]["problems_improvements"] == last_year  # the starting point
    r = put(2025, last_year + "。")
    assert r.status_code == 200 and r.json()["warning"] and r.json()["similarity_to_last_year"] > 0.9
    assert api.http.put(api.items("/report-texts/2025/nonsense"), headers=office,
                        json={"text": "x"}).status_code == 422
    assert api.http.put(api.items("/report-texts/2025/overall"), headers=people.author,
                        json={"text": "x"}).status_code == 403
    import time
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        report = api.http.get(api.reports("/reports/2025"), headers=people.viewer,
                              params={"org": people.org, "format": "json"}).json()
        if report["narrative"].get("problems_improvements"):
            break
        time.sleep(0.2)
    assert report["narrative"]["problems_improvements"] == last_year + "。"
    assert any(r["rule"] == "X-9" and not r["ok"] for r in report["rules"])
    md = api.http.get(api.reports("/reports/2025"), headers=people.viewer,
                      params={"org": people.org, "format": "md"}).text
    assert last_year in md and "（待填写）" in md  # the sections not written yet say so


def test_gongkai_import_reads_a_csv_of_earlier_records_once(api, stack, tmp_path):
    csv_file = tmp_path / "earlier.csv"
    csv_file.write_text("source_ref,kind,category,title,author,published_at\n"
                        "old-1,proactive,meetings,2019年会议,李某,2019-03-01T02:00:00+00:00\n"
                        "old-2,interpretation,,2019年解读,李某,2019-04-01T02:00:00+00:00\n", encoding="utf-8")
    env = stack.env
    first = subprocess.run([GONGKAI, "import", str(csv_file), "--org", "importer"], env=env, capture_output=True,
                           text=True, timeout=60)
    assert first.returncode == 0 and "imported 2 records" in first.stdout, first.stderr
    again = subprocess.run([GONGKAI, "import", str(csv_file), "--org", "importer"], env=env, capture_output=True,
                           text=True, timeout=60)
    assert "imported 0 records, 2 were already there" in again.stdout
    viewer = People(stack, "importer").viewer
    import time
    deadline = time.monotonic() + 10
    while (t := api.totals(viewer, year=2019, org="importer"))["interpretations"] != 1 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert t["proactive"]["by_category"]["meetings"] == 1 and t["interpretations"] == 1


def test_the_office_submits_the_years_report_and_it_goes_through_the_review_chain(api, people):
    office = people.token("zhang.bin", "office")
    assert api.http.post(api.reports("/reports/2025/submit"), headers=people.viewer,
                         params={"org": people.org}).status_code == 403
    r = api.http.post(api.reports("/reports/2025/submit"), headers=office, params={"org": people.org})
    assert r.status_code == 202, r.text
    item_id = r.json()["item_id"]
    got = api.item(office, item_id)
    assert got["kind"] == "annual_report" and got["status"] == "in_review" and "2025年政府信息公开工作年度报告" in got["title"]
    assert "## 一、总体情况" in got["body"]
    publish_by = next(d for d in got["deadlines"] if d["kind"] == "publication")
    assert publish_by["due_on"] == "2026-01-31" and "第四十九条" in publish_by["explanation"]  # Art. 49, departments
    again = api.http.post(api.reports("/reports/2025/submit"), headers=office, params={"org": people.org})
    assert again.status_code == 202 and again.json()["item_id"] == item_id  # one report item per year
    assert api.decide(people.officer, item_id, "initial").status_code == 200
    assert api.decide(people.head, item_id, "recheck").json()["status"] == "published"


def test_table_2_figures_are_reviewed_before_they_appear_in_the_report(api, people):
    office = people.token("zhang.bin", "office")
    figures = {"rules_issued": 0, "normative_documents_issued": 3, "normative_documents_in_force": 12,
               "administrative_licensing": 41, "administrative_penalty": 5, "fee_amount_wan_yuan": "12.3456"}
    assert api.http.post(api.items("/records/2025"), headers=people.author, json=figures).status_code == 403
    assert api.http.post(api.items("/records/2025"), headers=office,
                         json={**figures, "administrative_penalty": -1}).status_code == 422
    r = api.http.post(api.items("/records/2025"), headers=office, json=figures)
    assert r.status_code == 202 and r.json()["status"] == "in_review"

    def section2() -> dict:
        return api.http.get(api.reports("/reports/2025"), headers=people.viewer,
                            params={"org": people.org, "format": "json"}).json()["tables"]["section2"]

    assert section2()["administrative_licensing"] is None  # not approved yet: not in the report
    assert api.http.post(api.reviews("/records/2025/decisions"), headers=office,
                         json={"stage": "initial", "outcome": "approve"}).status_code == 403  # its drafter
    assert api.http.post(api.reviews("/records/2025/decisions"), headers=people.officer,
                         json={"stage": "initial", "outcome": "approve"}).status_code == 200
    r = api.http.post(api.reviews("/records/2025/decisions"), headers=people.head,
                      json={"stage": "recheck", "outcome": "approve"})
    assert r.status_code == 200, r.text
    import time
    deadline = time.monotonic() + 10
    while section2()["administrative_licensing"] is None and time.monotonic() < deadline:
        time.sleep(0.2)
    s2 = section2()
    assert s2["administrative_licensing"] == 41 and s2["normative_documents"]["currently_valid"] == 12
    assert s2["fee_amount_wan_yuan"] == 12.3456
    md = api.http.get(api.reports("/reports/2025"), headers=people.viewer,
                      params={"org": people.org, "format": "md"}).text
    assert "12.3456" in md and "41" in md


def test_a_closed_year_keeps_its_figures_and_shows_later_changes_as_restatements(api, people):
    import time
    from datetime import date

    from tests.e2e.test_review_chain import published

    year = date.today().year
    office = people.token("zhang.bin", "office")
    first = published(api, people, category="meetings")
    api.totals_after(people.viewer, first["version"], org=people.org)
    assert api.http.post(api.reports(f"/reports/{year}/close"), headers=people.viewer).status_code == 403
    closed = api.http.post(api.reports(f"/reports/{year}/close"), headers=office)
    assert closed.status_code == 200 and len(closed.json()["digest"]) == 64
    assert api.http.post(api.reports(f"/reports/{year}/close"), headers=office).status_code == 409  # once

    later = published(api, people, category="meetings")  # a late record changes the closed year's figures
    api.totals_after(people.viewer, later["version"], org=people.org)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        report = api.http.get(api.reports(f"/reports/{year}"), headers=people.viewer,
                              params={"org": people.org, "format": "json"}).json()
        if report["closed"] and report["restatements"]:
            break
        time.sleep(0.2)
    assert report["closed"]["digest"] == closed.json()["digest"]
    assert report["tables"]["proactive"]["total"] == 1  # as published when closed
    assert {"key": "proactive.total", "old": 1, "new": 2} in report["restatements"]
    md = api.http.get(api.reports(f"/reports/{year}"), headers=people.viewer,
                      params={"org": people.org, "format": "md"}).text
    assert "更正说明" in md and "proactive.total：原为1，现为2" in md


def test_imported_dates_without_a_zone_are_beijing_time_and_do_not_stall_the_totals(api, stack):
    org = People(stack, "naive-dates")
    r = api.http.post(api.items("/import"), headers=org.token("zhang.bin", "office"), json={"items": [
        {"source_ref": "n-1", "kind": "proactive", "category": "plans", "title": "年末信息", "author": "x",
         "published_at": "2018-12-31T23:30:00"}]})  # 23:30 in Beijing is still 2018
    assert r.status_code == 201
    item = api.item(org.viewer, r.json()["created"][0])
    t = api.totals_after(org.viewer, item["version"], year=2018, org="naive-dates")
    assert t["position"] >= item["version"] and t["proactive"]["by_category"]["plans"] == 1
