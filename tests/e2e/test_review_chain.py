"""The seed's whole review chain (§九) through HTTP on the running stack: every path of the table in
DESIGN.md "The publishing workflow", each refusal with its status, deadlines, 索引号 and the scan."""

import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest

from tests.e2e.conftest import People

REFERRAL = {"sent_on": "2026-11-02", "reference_no": "张保密〔2026〕12号", "answered_on": "2026-11-09",
            "conclusion": "不属于国家秘密，可以公开"}


def to_recheck(api, people, **fields) -> dict:
    item = api.create(people.author, **fields)
    assert api.submit(people.author, item["id"]).status_code == 202
    r = api.decide(people.officer, item["id"], "initial")
    assert r.status_code == 200, r.text
    return item


def test_escalation_through_the_leader_to_the_secrecy_bureau_publishes_with_the_referral(api, people):
    item = to_recheck(api, people)
    r = api.decide(people.head, item["id"], "recheck", "escalate", comment="把握不准，报分管领导")
    assert r.status_code == 200 and r.json()["stage"] == "leader"
    leader = people.token("zhao.min", "leader")
    r = api.decide(leader, item["id"], "leader", "escalate", comment="报同级保密部门")
    assert r.status_code == 200 and r.json()["stage"] == "secrecy"
    bureau = people.token("bao.mi", "secrecy")
    assert api.decide(bureau, item["id"], "secrecy").status_code == 422  # the referral must be recorded
    r = api.decide(bureau, item["id"], "secrecy", referral=REFERRAL)
    assert r.status_code == 200 and r.json()["status"] == "published"
    got = api.item(people.author, item["id"])
    last = [h for h in got["history"] if h["type"] == "review.decided"][-1]["payload"]
    assert last["referral"]["reference_no"] == "张保密〔2026〕12号" and last["decided_by"] == "bao.mi"


def test_the_office_may_enter_the_bureaus_answer_on_its_behalf_and_it_is_recorded_as_such(api, people):
    item = to_recheck(api, people)
    api.decide(people.head, item["id"], "recheck", "escalate")
    api.decide(people.token("zhao.min", "leader"), item["id"], "leader", "escalate")
    office = people.token("zhang.bin", "office")
    r = api.decide(office, item["id"], "secrecy", referral=REFERRAL)
    assert r.status_code == 403 and r.json()["error"] == "wrong_role"
    r = api.decide(office, item["id"], "secrecy", referral=REFERRAL, on_behalf_of="张店区保密局")
    assert r.status_code == 200 and r.json()["status"] == "published"
    last = [h for h in api.item(people.author, item["id"])["history"] if h["type"] == "review.decided"][-1]
    assert last["payload"]["on_behalf_of"] == "张店区保密局" and last["payload"]["roles"] == ["office"]


def test_the_secrecy_stage_cannot_escalate_409(api, people):
    item = to_recheck(api, people)
    api.decide(people.head, item["id"], "recheck", "escalate")
    api.decide(people.token("zhao.min", "leader"), item["id"], "leader", "escalate")
    r = api.decide(people.token("bao.mi", "secrecy"), item["id"], "secrecy", "escalate")
    assert r.status_code == 409 and r.json()["error"] == "outcome_not_allowed"
    r = api.decide(people.officer, item["id"], "secrecy", "approve", referral=REFERRAL)
    assert r.status_code == 403


@pytest.mark.parametrize("stage_path", [["initial"], ["initial", "recheck"]])
def test_the_leader_may_approve_directly_and_each_stage_may_return_or_reject(api, people, stage_path):
    item = api.create(people.author)
    api.submit(people.author, item["id"])
    deciders = {"initial": people.officer, "recheck": people.head}
    for stage in stage_path[:-1]:
        api.decide(deciders[stage], item["id"], stage)
    r = api.decide(deciders[stage_path[-1]], item["id"], stage_path[-1], "reject", comment="涉及内部事务",
                   reason_code="denied_internal_affairs")
    assert r.status_code == 200 and r.json()["status"] == "rejected"


def test_leader_approval_publishes(api, people):
    item = to_recheck(api, people)
    api.decide(people.head, item["id"], "recheck", "escalate")
    r = api.decide(people.token("zhao.min", "leader"), item["id"], "leader")
    assert r.status_code == 200 and r.json()["status"] == "published"


def test_a_reject_needs_a_reason_of_the_regulation_and_a_rejected_item_is_final(api, people):
    item = api.create(people.author)
    api.submit(people.author, item["id"])
    r = api.decide(people.officer, item["id"], "initial", "reject", reason_code="because")
    assert r.status_code == 422
    r = api.decide(people.officer, item["id"], "initial", "reject", comment="", reason_code="denied_process_info")
    assert r.status_code == 422  # a reject explains itself to the author
    r = api.decide(people.officer, item["id"], "initial", "reject", comment="属于过程稿",
                   reason_code="denied_process_info", review_again_on="2027-06-30")
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    got = api.item(people.author, item["id"])
    assert got["status"] == "rejected"
    decided = [h for h in got["history"] if h["type"] == "review.decided"][-1]["payload"]
    assert decided["reason_code"] == "denied_process_info" and decided["review_again_on"] == "2027-06-30"
    assert api.http.patch(api.items(f"/items/{item['id']}"), headers=people.author,
                          json={"title": "x"}).status_code == 409
    assert api.submit(people.author, item["id"]).status_code == 409


def test_return_carries_the_comments_and_earlier_approvals_never_count_again(api, people):
    item = to_recheck(api, people)
    r = api.decide(people.head, item["id"], "recheck", "return", comment="请补充会议时间")
    assert r.status_code == 200 and r.json()["status"] == "returned"
    got = api.item(people.author, item["id"])
    assert got["status"] == "returned"
    assert [h for h in got["history"] if h["type"] == "review.decided"][-1]["payload"]["comment"] == "请补充会议时间"
    api.http.patch(api.items(f"/items/{item['id']}"), headers=people.author, json={"body": "会议于3月1日召开"})
    api.submit(people.author, item["id"])
    assert api.decide(people.head, item["id"], "recheck").status_code == 409  # back at 初审
    tasks = api.tasks_after(people.officer, api.item(people.author, item["id"])["version"])
    assert any(t["id"] == item["id"] and t["submission"] == 2 for t in tasks)


def test_the_item_shows_its_deadlines_and_how_they_were_computed(api, people):
    item = api.create(people.author, formed_on=date.today().isoformat())
    api.submit(people.author, item["id"])
    got = api.item(people.author, item["id"])
    kinds = {d["kind"]: d for d in got["deadlines"]}
    assert set(kinds) == {"stage", "publication"}
    stage = kinds["stage"]
    assert stage["stage"] == "initial" and stage["due_on"] and not stage["overdue"]
    assert "3个工作日" in stage["explanation"]
    assert "20个工作日" in kinds["publication"]["explanation"]
    tasks = api.tasks_after(people.officer, got["version"])
    mine = next(t for t in tasks if t["id"] == item["id"])
    assert mine["due_on"] == stage["due_on"] and mine["overdue"] is False


def test_a_stage_past_its_deadline_is_recorded_overdue_and_reminds_the_next_person(api, stack):
    drill = People(stack, "drill")  # an org whose stage deadline is 3 seconds
    item = api.create(drill.author, title=f"演练 {uuid.uuid4().hex[:6]}")
    api.submit(drill.author, item["id"])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        got = api.item(drill.author, item["id"])
        if got["reminders"]:
            break
        time.sleep(0.5)
    assert [(r["type"], r["stage"], r["remind_roles"]) for r in got["reminders"]] == [
        ("review.overdue", "initial", ["officer"])]
    assert got["deadlines"][0]["overdue"] is True
    tasks = api.tasks_after(drill.officer, got["version"])
    assert tasks[0]["overdue"] is True  # overdue ones first
    assert api.totals_after(drill.viewer, got["version"], org="drill")["overdue"] >= 1
    # the review goes on after the deadline
    assert api.decide(drill.officer, item["id"], "initial").status_code == 200


def test_index_numbers_are_consecutive_unique_and_follow_the_orgs_pattern_under_20_concurrent_publications(
        api, stack):
    numbered = People(stack, "numbered")
    items = [to_recheck(api, numbered) for _ in range(20)]
    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(lambda it: api.decide(numbered.head, it["id"], "recheck"), items))
    assert [r.status_code for r in results] == [200] * 20, [r.text for r in results if r.status_code != 200]
    numbers = sorted(api.item(numbered.author, it["id"])["index_no"] for it in items)
    year = date.today().year
    assert all(re.fullmatch(rf"004230122/{year}-\d{{5}}", n) for n in numbers), numbers
    seqs = [int(n.rsplit("-", 1)[1]) for n in numbers]
    assert seqs == list(range(seqs[0], seqs[0] + 20))  # no gaps, no repeats


def test_an_org_without_configuration_numbers_under_its_code(api, people):
    item = to_recheck(api, people)
    api.decide(people.head, item["id"], "recheck")
    assert re.fullmatch(rf"{people.org}/{date.today().year}-00001", api.item(people.author, item["id"])["index_no"])


def test_scan_findings_must_be_acknowledged_and_a_secrecy_mark_blocks_approval(api, people):
    item = api.create(people.author, body="联系人：张三，电话 13812345678。")
    api.submit(people.author, item["id"])
    findings = api.item(people.author, item["id"])["findings"]
    assert [f["kind"] for f in findings] == ["mobile"] and "138****5678" in findings[0]["excerpt"]
    r = api.decide(people.officer, item["id"], "initial")
    assert r.status_code == 422 and r.json()["error"] == "findings_not_acknowledged"
    r = api.decide(people.officer, item["id"], "initial", acknowledged=[findings[0]["id"]])
    assert r.status_code == 200

    marked = api.create(people.author, body="机密★5年\n关于……的通知")
    api.submit(people.author, marked["id"])
    ids = [f["id"] for f in api.item(people.author, marked["id"])["findings"]]
    r = api.decide(people.officer, marked["id"], "initial", acknowledged=ids)
    assert r.status_code == 403 and r.json()["error"] == "secrecy_mark"
    r = api.decide(people.officer, marked["id"], "initial", "reject", comment="含密级标志",
                   reason_code="denied_state_secret")
    assert r.status_code == 200


def test_the_orgs_sensitive_words_are_found(api, stack):
    numbered = People(stack, "numbered")
    item = api.create(numbered.author, body="本文为内部资料")
    api.submit(numbered.author, item["id"])
    assert [f["kind"] for f in api.item(numbered.author, item["id"])["findings"]] == ["sensitive_word"]


def test_portal_metadata_is_kept_and_validated(api, people):
    meta = {"publisher": "淄博市张店区机关事务服务中心", "doc_number": "张机管发〔2026〕3号", "written_on": "2026-03-01",
            "topic_category": "综合政务\\其他", "genre": "通知", "keywords": ["节能"], "summary": "关于节能的通知",
            "responsible_unit": "办公室", "validity": "valid", "effective_on": "2026-03-05"}
    item = api.create(people.author, formed_on="2026-03-02", metadata=meta)
    assert api.item(people.author, item["id"])["metadata"]["doc_number"] == "张机管发〔2026〕3号"
    bad = [
        {**meta, "doc_number": "张机管发[2026]3号"},  # 〔〕 brackets, not []
        {**meta, "validity": "repealed"},  # a repeal has a date
        {**meta, "effective_on": "2026-03-05", "repealed_on": "2026-01-01"},
        {**meta, "summary": "长" * 501},
    ]
    for m in bad:
        r = api.http.post(api.items("/items"), headers=people.author,
                          json={"kind": "proactive", "category": "meetings", "title": "x", "metadata": m})
        assert r.status_code == 422, m
    r = api.http.post(api.items("/items"), headers=people.author,
                      json={"kind": "proactive", "category": "meetings", "title": "x", "formed_on": "2026-02-01",
                            "metadata": meta})
    assert r.status_code == 422  # formed before it was written
    r = api.http.patch(api.items(f"/items/{item['id']}"), headers=people.author,
                       json={"metadata": {**meta, "validity": "repealed", "repealed_on": "2026-12-31"}})
    assert r.status_code == 200 and r.json()["metadata"]["validity"] == "repealed"


def published(api, people, **fields) -> dict:
    item = to_recheck(api, people, **fields)
    assert api.decide(people.head, item["id"], "recheck").json()["status"] == "published"
    return api.item(people.author, item["id"])


def test_a_retraction_is_reviewed_keeps_the_index_number_and_the_years_count(api, people):
    year = date.today().year
    item = published(api, people, category="plans")
    before = api.totals_after(people.viewer, item["version"], year=year, org=people.org)
    r = api.http.post(api.items(f"/items/{item['id']}/retract"), headers=people.author, json={"reason": "内容已调整"})
    assert r.status_code == 202 and r.json()["status"] == "published" and r.json()["pending_change"]["change"] == "retract"
    tasks = api.tasks_after(people.officer, api.item(people.author, item["id"])["version"])
    assert any(t["id"] == item["id"] and t["purpose"] == "retract" for t in tasks)
    assert api.decide(people.officer, item["id"], "initial").status_code == 200
    r = api.decide(people.head, item["id"], "recheck")
    assert r.status_code == 200 and r.json()["status"] == "retracted"
    got = api.item(people.author, item["id"])
    assert got["status"] == "retracted" and got["index_no"] == item["index_no"]
    assert "item.retracted" in [h["type"] for h in got["history"]]
    after = api.totals_after(people.viewer, got["version"], year=year, org=people.org)
    assert after["proactive"]["total"] == before["proactive"]["total"]  # it was published this year
    assert api.http.post(api.items(f"/items/{item['id']}/retract"), headers=people.author,
                         json={"reason": "again"}).status_code == 409


def test_a_rejected_retraction_leaves_the_item_published(api, people):
    item = published(api, people)
    api.http.post(api.items(f"/items/{item['id']}/retract"), headers=people.author, json={"reason": "误发"})
    r = api.decide(people.officer, item["id"], "initial", "reject", comment="不宜撤回",
                   reason_code="denied_process_info")
    assert r.status_code == 200
    got = api.item(people.author, item["id"])
    assert got["status"] == "published" and not got["review_open"]


def test_a_validity_change_takes_effect_only_after_review(api, people):
    item = published(api, people)
    r = api.http.post(api.items(f"/items/{item['id']}/validity"), headers=people.author,
                      json={"validity": "repealed", "effective_on": "2026-12-31", "reason": "已被新文件替代"})
    assert r.status_code == 202
    assert api.item(people.author, item["id"])["metadata"]["validity"] == "valid"
    api.decide(people.officer, item["id"], "initial")
    assert api.decide(people.head, item["id"], "recheck").json()["status"] == "published"
    meta = api.item(people.author, item["id"])["metadata"]
    assert meta["validity"] == "repealed" and meta["repealed_on"] == "2026-12-31"


def test_only_published_items_can_be_retracted_and_only_by_their_author_or_the_office(api, people):
    draft = api.create(people.author)
    r = api.http.post(api.items(f"/items/{draft['id']}/retract"), headers=people.author, json={"reason": "x"})
    assert r.status_code == 409
    item = published(api, people)
    r = api.http.post(api.items(f"/items/{item['id']}/retract"), headers=people.officer, json={"reason": "x"})
    assert r.status_code == 403
    r = api.http.post(api.items(f"/items/{item['id']}/retract"), headers=people.token("zhang.bin", "office"),
                      json={"reason": "依职责撤回"})
    assert r.status_code == 202
