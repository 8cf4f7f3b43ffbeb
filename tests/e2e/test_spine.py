"""End to end through HTTP on the running stack (`gongkai up` on free ports): the review chain as a
department lives it, and every way around it that must fail."""

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from zoneinfo import ZoneInfo

import nats
import pytest
from temporalio.client import Client
from temporalio.service import RPCError

from contracts import subjects
from contracts.reviews import CommandReply, PublishItem
from gongkai import natsauth
from gongkai.eventlog import EventLog

YEAR = datetime.now(ZoneInfo("Asia/Shanghai")).year


def head(stack) -> int:
    async def read() -> int:
        log = await EventLog.connect(stack.nats_url)
        try:
            return await log.head()
        finally:
            await log.close()

    return asyncio.run(read())


def test_an_item_goes_from_draft_through_initial_and_recheck_to_published_and_is_counted(api, people):
    before = api.totals(people.viewer, year=YEAR, org=people.org)["proactive"]["by_category"]["meetings"]
    item = api.create(people.author, "meetings")
    assert item["status"] == "draft" and item["author"] == "zhang.wei" and item["org"] == people.org

    r = api.submit(people.author, item["id"])
    assert r.status_code == 202 and r.json()["status"] == "in_review"

    tasks = api.tasks_after(people.officer, api.item(people.author, item["id"])["version"])
    assert [t["id"] for t in tasks if t["id"] == item["id"]] and tasks[0]["stage"] == "initial"
    assert api.http.get(api.reviews("/tasks"), headers=people.author).json()["tasks"] == []

    r = api.decide(people.officer, item["id"], "initial")
    assert r.status_code == 200, r.text
    assert r.json()["stage"] == "recheck" and r.json()["status"] == "in_review"
    assert api.item(people.author, item["id"])["status"] == "in_review"

    r = api.decide(people.head, item["id"], "recheck")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "published"

    got = api.item(people.viewer, item["id"])
    assert got["status"] == "published" and got["published_at"]
    assert [h["type"] for h in got["history"]] == [
        "item.drafted", "item.submitted", "review.decided", "review.decided", "item.published"]
    decisions = [h for h in got["history"] if h["type"] == "review.decided"]
    assert [(d["payload"]["stage"], d["payload"]["decided_by"]) for d in decisions] == [
        ("initial", "li.na"), ("recheck", "wang.qiang")]

    t = api.totals_after(people.viewer, got["version"], year=YEAR, org=people.org)
    assert t["proactive"]["by_category"]["meetings"] == before + 1
    assert t["proactive"]["total"] == 1 and t["org"] == people.org
    behind = api.http.get(api.reports("/totals/explain"), headers=people.viewer,
                          params={"year": YEAR, "org": people.org, "key": "proactive.by_category.meetings"}).json()
    assert behind["ids"] == [item["id"]]

    deadline = time.monotonic() + 10
    while (listed := api.http.get(api.items("/items"), headers=people.author,
                                  params={"status": "published"}).json())["position"] < got["version"]:
        assert time.monotonic() < deadline, "the items listing did not catch up"
        time.sleep(0.05)
    assert [i["id"] for i in listed["items"]] == [item["id"]]


def test_the_author_approving_their_own_item_is_forbidden(api, people):
    both = people.token("zhang.wei", "author", "officer")
    item = api.create(both)
    api.submit(both, item["id"])
    r = api.decide(both, item["id"], "initial")
    assert r.status_code == 403 and r.json()["error"] == "author_cannot_decide"
    assert "作者" in r.json()["message"] and "author" in r.json()["message"]
    assert api.item(people.author, item["id"])["status"] == "in_review"


def test_one_person_cannot_decide_both_stages(api, people):
    zhou = people.token("zhou", "officer", "section_head")
    item = api.create(people.author)
    api.submit(people.author, item["id"])
    assert api.decide(zhou, item["id"], "initial").status_code == 200
    r = api.decide(zhou, item["id"], "recheck")
    assert r.status_code == 403 and r.json()["error"] == "already_decided"
    assert api.item(people.author, item["id"])["status"] == "in_review"


def test_a_decision_for_a_stage_that_is_not_current_is_409(api, people):
    item = api.create(people.author)
    api.submit(people.author, item["id"])
    r = api.decide(people.head, item["id"], "recheck")
    assert r.status_code == 409 and r.json()["error"] == "not_current_stage"


def test_a_decision_for_another_orgs_item_is_forbidden(api, people, stack):
    item = api.create(people.author)
    api.submit(people.author, item["id"])
    stranger = {"Authorization": f"Bearer {stack.token('li.na', 'other-org', 'officer')}"}
    assert api.decide(stranger, item["id"], "initial").status_code == 403
    assert api.http.get(api.items(f"/items/{item['id']}"), headers=stranger).status_code == 403


def test_a_decision_on_a_finished_review_is_409(api, people):
    item = api.create(people.author)
    api.submit(people.author, item["id"])
    assert api.decide(people.officer, item["id"], "initial", "reject").status_code == 200
    assert api.item(people.author, item["id"])["status"] == "rejected"
    r = api.decide(people.head, item["id"], "recheck")
    assert r.status_code == 409


def test_publishing_without_the_chain_is_refused_by_the_items_aggregate(api, people, stack):
    """A publish command that did not come out of a complete chain (a bug, or a forged message) is refused
    by the second guard, the aggregate."""
    item = api.create(people.author)
    api.submit(people.author, item["id"])
    api.decide(people.officer, item["id"], "initial")

    async def forge() -> CommandReply:
        nc = await nats.connect(stack.nats_url)
        try:
            cmd = PublishItem(aggregate_id=item["id"], org=people.org, submission=1, workflow_id="forged")
            msg = await nc.request(subjects.CMD_PUBLISH, cmd.model_dump_json().encode(), timeout=5)
            return CommandReply.model_validate_json(msg.data)
        finally:
            await nc.drain()

    reply = asyncio.run(forge())
    assert not reply.ok and reply.error == "chain_incomplete"
    got = api.item(people.author, item["id"])
    assert got["status"] == "in_review" and "item.published" not in [h["type"] for h in got["history"]]


@pytest.mark.parametrize("service,method,path", [
    ("items", "post", "/items"), ("items", "get", "/items"), ("reviews", "get", "/tasks"),
    ("reviews", "post", "/items/x/decisions"), ("reports", "get", "/totals")])
def test_without_a_valid_token_every_route_is_401(api, stack, service, method, path):
    url = f"{stack.url(service)}{path}"
    assert getattr(api.http, method)(url).status_code == 401
    forged = {"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"}
    r = getattr(api.http, method)(url, headers=forged)
    assert r.status_code == 401 and r.json()["error"] == "invalid_token"


def test_health_needs_no_token(api, stack):
    for service in ("items", "reviews", "reports"):
        assert api.http.get(f"{stack.url(service)}/health").status_code == 200


def test_malformed_bodies_are_422_and_append_nothing(api, people, stack):
    item = api.create(people.author)
    start = head(stack)
    bad = [
        api.http.post(api.items("/items"), headers=people.author, json={"kind": "proactive", "category": "meetings"}),
        api.http.post(api.items("/items"), headers=people.author, json={"kind": "novel", "title": "x"}),
        api.http.post(api.items("/items"), headers=people.author, content=b"{not json",
                      ),
        api.http.post(api.items("/items"), headers=people.author,
                      json={"kind": "proactive", "category": "no_such_category", "title": "x"}),
        api.http.patch(api.items(f"/items/{item['id']}"), headers=people.author, json={"formed_on": "yesterday"}),
        api.http.patch(api.items(f"/items/{item['id']}"), headers=people.author, json={"status": "published"}),
        api.http.post(api.reviews(f"/items/{item['id']}/decisions"), headers=people.officer,
                      json={"stage": "bogus", "outcome": "approve"}),
        api.http.post(api.reviews(f"/items/{item['id']}/decisions"), headers=people.officer,
                      json={"stage": "initial", "outcome": "publish"}),
    ]
    assert [r.status_code for r in bad] == [422] * len(bad), [r.text for r in bad]
    assert all(r.json()["error"] for r in bad)
    assert head(stack) == start
    assert api.item(people.author, item["id"])["version"] == item["version"]


def test_two_concurrent_approvals_of_one_stage_one_wins(api, people):
    item = api.create(people.author)
    api.submit(people.author, item["id"])
    officers = [people.token(f"officer{i}", "officer") for i in range(2)]
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda who: api.decide(who, item["id"], "initial"), officers))
    assert sorted(r.status_code for r in results) == [200, 409], [r.text for r in results]
    decided = [h for h in api.item(people.author, item["id"])["history"] if h["type"] == "review.decided"]
    assert len(decided) == 1


def test_a_repeated_submit_starts_no_second_workflow(api, people, stack):
    item = api.create(people.author)
    assert api.submit(people.author, item["id"]).status_code == 202
    r = api.submit(people.author, item["id"])
    assert r.status_code == 409 and r.json()["error"] == "not_submittable"

    async def workflows() -> list[str]:
        client = await Client.connect(stack.temporal_address)
        found = []
        for n in (1, 2):
            try:
                await client.get_workflow_handle(subjects.review_workflow_id("item", item["id"], n)).describe()
                found.append(n)
            except RPCError:
                pass
        return found

    assert asyncio.run(workflows()) == [1]
    submitted = [h for h in api.item(people.author, item["id"])["history"] if h["type"] == "item.submitted"]
    assert len(submitted) == 1


def test_return_edit_and_resubmit_starts_a_new_review(api, people):
    item = api.create(people.author)
    api.submit(people.author, item["id"])
    assert api.decide(people.officer, item["id"], "initial", "return").status_code == 200
    assert api.item(people.author, item["id"])["status"] == "returned"
    r = api.http.patch(api.items(f"/items/{item['id']}"), headers=people.author, json={"title": "修改后的标题"})
    assert r.status_code == 200 and r.json()["title"] == "修改后的标题"
    assert api.submit(people.author, item["id"]).status_code == 202
    assert api.decide(people.head, item["id"], "recheck").status_code == 409  # starts again at 初审
    assert api.decide(people.officer, item["id"], "initial").status_code == 200
    assert api.decide(people.head, item["id"], "recheck").json()["status"] == "published"


def test_viewers_and_officers_cannot_draft_items(api, people):
    for who in (people.viewer, people.officer):
        r = api.http.post(api.items("/items"), headers=who,
                          json={"kind": "proactive", "category": "meetings", "title": "x"})
        assert r.status_code == 403


def test_a_submission_whose_workflow_never_started_is_reviewed_all_the_same(api, people, stack):
    """The items service may stop between recording a submission and starting its workflow; the first
    decision then starts it (update-with-start), and the chain works as usual."""
    item = api.create(people.author)

    async def submit_without_workflow() -> None:
        from contracts.envelope import Actor, Envelope
        from contracts.items import ItemSubmitted

        log = await EventLog.connect(stack.nats_url_as("items"), inbox_prefix=natsauth.inbox_prefix("items"))
        try:
            ev = ItemSubmitted(submission=1, workflow_id=subjects.review_workflow_id("item", item["id"], 1))
            env = Envelope.wrap(ev, aggregate_id=item["id"], org=people.org, actor=Actor(user="zhang.wei"))
            await log.append(subjects.event_subject("item", item["id"]), env, item["version"])
        finally:
            await log.close()

    asyncio.run(submit_without_workflow())
    assert api.decide(people.officer, item["id"], "initial").status_code == 200
    assert api.decide(people.head, item["id"], "recheck").json()["status"] == "published"


def test_a_retried_create_with_the_same_idempotency_key_creates_one_item(api, people):
    headers = {**people.author, "Idempotency-Key": "form-42"}
    body = {"kind": "proactive", "category": "plans", "title": "规划"}
    first = api.http.post(api.items("/items"), headers=headers, json=body)
    again = api.http.post(api.items("/items"), headers=headers, json=body)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"] and again.json()["version"] == first.json()["version"]


def test_an_item_withdrawn_during_review_can_no_longer_be_decided(api, people):
    item = api.create(people.author)
    api.submit(people.author, item["id"])
    r = api.http.post(api.items(f"/items/{item['id']}/withdraw"), headers=people.author, json={"reason": "有误"})
    assert r.status_code == 200 and r.json()["status"] == "withdrawn"
    assert api.decide(people.officer, item["id"], "initial").status_code == 409
    assert api.submit(people.author, item["id"]).status_code == 409
