"""Attacks on 先审查后公开 (review before publication). Each tries a way to get an item published without the
chain having approved it, and must fail: the item is not published and the log holds no `item.published`.

More attacks live beside the behaviour they break: forged NATS commands (test_spine), racing approvals
(test_races), tokens on every route (test_access_matrix)."""

from __future__ import annotations

import asyncio
import time

import jwt
import pytest

from contracts.roles import Role
from contracts.subjects import event_subject
from gongkai import natsauth
from gongkai.auth import ALGORITHM, mint, signing_key
from gongkai.config import Settings
from gongkai.eventlog import EventLog

ROLES = [r.value for r in Role]
SERVICE_USERS = ("items", "reviews", "reports", "worker")


def log_types(stack, item_id: str) -> list[str]:
    async def read() -> list[str]:
        log = await EventLog.connect(stack.nats_url)
        try:
            return [st.envelope.type for st in await log.load(event_subject("item", item_id))]
        finally:
            await log.close()

    return asyncio.run(read())


def never_published(api, people, stack, item_id: str) -> None:
    assert api.item(people.author, item_id)["status"] != "published"
    assert "item.published" not in log_types(stack, item_id)


def in_review(api, people, *, initial: bool = False) -> str:
    item = api.create(people.author)
    assert api.submit(people.author, item["id"]).status_code == 202
    if initial:
        assert api.decide(people.officer, item["id"], "initial").status_code == 200
    return item["id"]


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("role", ROLES)
def test_no_role_can_publish_directly(api, people, stack, role):
    """There is no publish route; a client with any role trying the obvious ones changes nothing."""
    item_id = in_review(api, people, initial=True)
    who = people.token(f"someone.{role}", role)
    attempts = [
        api.http.post(api.items(f"/items/{item_id}/publish"), headers=who),
        api.http.patch(api.items(f"/items/{item_id}"), headers=who, json={"status": "published"}),
        api.http.patch(api.items(f"/items/{item_id}"), headers=who, json={"published_at": "2026-01-01T00:00:00Z"}),
        api.http.post(api.reviews(f"/items/{item_id}/publish"), headers=who),
    ]
    assert all(r.status_code in (403, 404, 405, 409, 422) for r in attempts), [(r.status_code, r.text) for r in attempts]
    never_published(api, people, stack, item_id)


def test_a_new_item_cannot_be_created_published(api, people, stack):
    r = api.http.post(api.items("/items"), headers=people.author, json={
        "kind": "proactive", "category": "meetings", "title": "t", "body": "b", "status": "published",
        "published_at": "2026-01-01T00:00:00Z", "index_no": "X-1"})
    if r.status_code == 201:
        assert r.json()["status"] == "draft"
        never_published(api, people, stack, r.json()["id"])
    else:
        assert r.status_code == 422


def test_a_replayed_approval_is_not_a_second_approval(api, people, stack):
    """The initial approval sent again (a replay of the same request) does not count as the 复核."""
    item_id = in_review(api, people)
    assert api.decide(people.officer, item_id, "initial").status_code == 200
    r = api.decide(people.officer, item_id, "initial")
    assert r.status_code in (403, 409)
    r = api.decide(people.officer, item_id, "recheck")  # the same officer cannot take the next stage either
    assert r.status_code in (403, 409)
    never_published(api, people, stack, item_id)


def test_decisions_out_of_order_are_refused(api, people, stack):
    item_id = in_review(api, people)
    for stage, who in (("recheck", people.head), ("leader", people.token("zhao.min", "leader")),
                       ("secrecy", people.token("bao.mi", "secrecy"))):
        assert api.decide(who, item_id, stage).status_code in (409, 422)  # secrecy also lacks its referral
    never_published(api, people, stack, item_id)


def test_a_decision_for_another_orgs_item_is_refused(api, people, stack):
    item_id = in_review(api, people, initial=True)
    stranger = bearer(stack.token("wang.qiang", "some-other-org", "section_head"))
    assert api.decide(stranger, item_id, "recheck").status_code == 403
    never_published(api, people, stack, item_id)


def test_the_author_cannot_approve_through_a_second_role(api, people, stack):
    item = api.create(people.author)
    api.submit(people.author, item["id"])
    assert api.decide(people.officer, item["id"], "initial").status_code == 200
    as_head = people.token("zhang.wei", "section_head")  # the author, in another token with another role
    assert api.decide(as_head, item["id"], "recheck").status_code == 403
    never_published(api, people, stack, item["id"])


def test_one_person_cannot_take_both_stages_through_two_tokens(api, people, stack):
    item_id = in_review(api, people)
    assert api.decide(people.token("chen.jie", "officer"), item_id, "initial").status_code == 200
    assert api.decide(people.token("chen.jie", "section_head"), item_id, "recheck").status_code == 403
    never_published(api, people, stack, item_id)


def test_two_approvals_racing_publish_once(api, people, stack):
    from concurrent.futures import ThreadPoolExecutor

    item_id = in_review(api, people, initial=True)
    heads = [people.token(f"head.{i}", "section_head") for i in range(2)]
    with ThreadPoolExecutor(2) as pool:
        codes = sorted(r.status_code for r in pool.map(lambda h: api.decide(h, item_id, "recheck"), heads))
    assert codes == [200, 409]
    assert log_types(stack, item_id).count("item.published") == 1


def test_a_token_with_a_forged_signature_is_refused(api, people, stack):
    item_id = in_review(api, people, initial=True)
    forged = jwt.encode({"sub": "wang.qiang", "org": people.org, "roles": ["section_head"], "iat": int(time.time()),
                         "exp": int(time.time()) + 600, "iss": "gongkai:whatever"}, "not-the-key" * 4,
                        algorithm=ALGORITHM)
    assert api.decide(bearer(forged), item_id, "recheck").status_code == 401
    unsigned = jwt.encode({"sub": "wang.qiang", "org": people.org, "roles": ["section_head"],
                           "exp": int(time.time()) + 600}, None, algorithm="none")
    assert api.decide(bearer(unsigned), item_id, "recheck").status_code == 401
    never_published(api, people, stack, item_id)


def test_an_expired_token_is_refused(api, people, stack):
    item_id = in_review(api, people, initial=True)
    expired = mint(Settings(data_dir=stack.data_dir), user="wang.qiang", org=people.org, roles=["section_head"],
                   ttl_s=-60)
    r = api.decide(bearer(expired), item_id, "recheck")
    assert r.status_code == 401 and r.json()["error"] == "token_expired"
    never_published(api, people, stack, item_id)


def test_a_token_of_another_deployment_is_refused(api, people, stack):
    """Right key, wrong issuer: a token minted for another gongkai that happens to share the key."""
    item_id = in_review(api, people, initial=True)
    key, _ = signing_key(Settings(data_dir=stack.data_dir), create=False)
    other = jwt.encode({"sub": "wang.qiang", "org": people.org, "roles": ["section_head"], "iat": int(time.time()),
                        "exp": int(time.time()) + 600, "iss": "gongkai:another-deployment"}, key, algorithm=ALGORITHM)
    assert api.decide(bearer(other), item_id, "recheck").status_code == 401
    never_published(api, people, stack, item_id)


def test_a_token_claiming_a_role_that_does_not_exist_is_refused(api, people, stack):
    item_id = in_review(api, people, initial=True)
    key, deployment = signing_key(Settings(data_dir=stack.data_dir), create=False)
    odd = jwt.encode({"sub": "x", "org": people.org, "roles": ["admin"], "iat": int(time.time()),
                      "exp": int(time.time()) + 600, "iss": f"gongkai:{deployment}"}, key, algorithm=ALGORITHM)
    assert api.decide(bearer(odd), item_id, "recheck").status_code == 401
    never_published(api, people, stack, item_id)


def test_an_edit_after_approval_is_refused_and_what_is_published_is_what_was_approved(api, people, stack):
    item = api.create(people.author)
    api.submit(people.author, item["id"])
    assert api.decide(people.officer, item["id"], "initial").status_code == 200
    r = api.http.patch(api.items(f"/items/{item['id']}"), headers=people.author, json={"body": "审核后偷偷改的正文"})
    assert r.status_code == 409
    assert api.decide(people.head, item["id"], "recheck").json()["status"] == "published"
    got = api.item(people.viewer, item["id"])
    assert got["body"] == "正文" and "item.revised" not in log_types(stack, item["id"])


def test_a_returned_items_old_approvals_do_not_count_after_an_edit(api, people, stack):
    item = api.create(people.author)
    api.submit(people.author, item["id"])
    assert api.decide(people.officer, item["id"], "initial").status_code == 200
    assert api.decide(people.head, item["id"], "recheck", "return").status_code == 200
    assert api.http.patch(api.items(f"/items/{item['id']}"), headers=people.author,
                          json={"body": "改过的正文"}).status_code == 200
    assert api.submit(people.author, item["id"]).status_code == 202
    assert api.decide(people.head, item["id"], "recheck").status_code == 409  # the new submission starts at 初审
    never_published(api, people, stack, item["id"])


def test_the_office_cannot_answer_for_a_reviewer_other_than_the_secrecy_bureau(api, people, stack):
    item_id = in_review(api, people, initial=True)
    office = people.token("gong.kai", "office")
    r = api.decide(office, item_id, "recheck", on_behalf_of="wang.qiang")
    assert r.status_code in (403, 409, 422)
    never_published(api, people, stack, item_id)


def test_a_withdrawn_item_cannot_be_approved_into_publication(api, people, stack):
    item_id = in_review(api, people, initial=True)
    assert api.http.post(api.items(f"/items/{item_id}/withdraw"), headers=people.author).status_code == 200
    assert api.decide(people.head, item_id, "recheck").status_code == 409
    never_published(api, people, stack, item_id)


@pytest.mark.parametrize("user", ["reviews", "reports", "worker", "admin", None])
def test_an_event_forged_on_nats_without_the_items_services_credentials_is_refused(api, people, stack, user):
    """A `item.published` put straight on the log by any NATS user but the items service's (or by an
    anonymous client): the server refuses it, and the log does not change."""
    import nats
    from nats.errors import Error as NatsError
    from nats.js.errors import Error as JsError

    from contracts.envelope import Actor, Envelope
    from contracts.items import ItemPublished

    item_id = in_review(api, people, initial=True)
    before = log_types(stack, item_id)

    async def forge() -> str:
        errors: list[str] = []

        async def on_error(e: Exception) -> None:
            errors.append(str(e))

        try:
            nc = await nats.connect(stack.nats_url_as(user), error_cb=on_error, connect_timeout=3,
                                    max_reconnect_attempts=0, allow_reconnect=False,
                                    inbox_prefix=natsauth.inbox_prefix(user) if user in SERVICE_USERS else "_INBOX")
        except (NatsError, OSError) as e:  # anonymous: not even let in
            return f"refused at connect: {e}"
        try:
            env = Envelope.wrap(ItemPublished(submission=1, published_at="2026-01-01T00:00:00Z"),
                                aggregate_id=item_id, org=people.org, actor=Actor(user="forger"))
            try:
                await nc.jetstream(timeout=2).publish(event_subject("item", item_id),
                                                      env.model_dump_json().encode())
            except (NatsError, JsError, TimeoutError) as e:
                errors.append(str(e))
            await asyncio.sleep(0.2)
            return "; ".join(errors)
        finally:
            await nc.close()

    refusal = asyncio.run(forge())
    assert "permissions violation" in refusal.lower() or "authorization" in refusal.lower() \
        or "refused at connect" in refusal, refusal
    assert log_types(stack, item_id) == before
    never_published(api, people, stack, item_id)


def test_the_dashboard_has_no_way_to_nats():
    """The dashboard reads only the reports API: no NATS client in its code, no NATS user for it."""
    from pathlib import Path

    import dashboard
    from gongkai.natsauth import USERS

    code = "\n".join(p.read_text(encoding="utf-8") for p in Path(dashboard.__file__).parent.glob("*.py"))
    assert "import nats" not in code and "faststream" not in code and "EventLog" not in code
    assert "dashboard" not in USERS
