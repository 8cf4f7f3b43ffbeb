"""The crash test's checks find what they are there to find: a log with a duplicate or a loss fed to them
(no stack needed) yields a problem naming the item."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.crash import check
from tests.crash.load import Load

ORG = "org-x"


class NoStack:
    def token(self, user: str, org: str, role: str) -> str:
        return f"{user}-token"


def load_with(reached: list[str]) -> Load:
    load = Load(NoStack(), ORG, len(reached), 1, "run")
    for item, r in zip(load.items, reached, strict=True):
        item.id, item.reached = f"id{item.n}", r
    return load


def ev(stream_seq: int, type_: str, agg: str, **payload) -> SimpleNamespace:
    return SimpleNamespace(seq=stream_seq, envelope=SimpleNamespace(type=type_, aggregate_id=agg, org=ORG,
                                                                    payload=payload))


def healthy(load: Load) -> tuple[list, dict, list]:
    """The log a correct system writes for the load's ground truth."""
    seq, events, per_item, counter = 0, [], {}, []

    def add(type_, item, **payload):
        nonlocal seq
        seq += 1
        e = ev(seq, type_, item.id, **payload)
        events.append(e)
        per_item.setdefault(item.id, []).append(e)

    for item in load.items:
        add("item.drafted", item, title=item.title)
        if item.reached == "accepted":
            continue
        add("item.submitted", item, submission=1)
        stages = {"rejected": ["initial"], "initial": ["initial"], "approved": ["initial", "recheck"]}
        for stage in stages.get(item.reached, []):
            add("review.decided", item, submission=1, stage=stage)
        if item.reached == "approved":
            n = len(counter) + 1
            counter.append(ev(seq + 1000, "index.assigned", f"{ORG}-2026", seq=n, index_no=f"N-{n}", item_id=item.id))
            add("item.published", item, submission=1)
    return events, per_item, counter


def problems_of(load, events, per_item, counter) -> list[str]:
    problems: list[str] = []
    check.check_log(load, events, per_item, counter, problems)
    return problems


def test_a_log_that_matches_the_ground_truth_has_no_problems():
    load = load_with(["approved", "approved", "rejected", "accepted", "initial"])
    assert problems_of(load, *healthy(load)) == []


@pytest.mark.parametrize("damage,expected", [
    ("publish_twice", "published 2 times"),
    ("second_draft", "2 drafts titled"),
    ("decide_twice", "2 decisions of stage recheck"),
    ("lose_publication", "0 item.published, expected 1"),
    ("two_numbers", "was given 2 index numbers"),
    ("gap_in_numbers", "not consecutive"),
    ("publish_rejected", "1 item.published, expected 0"),
])
def test_each_kind_of_loss_or_duplicate_is_named(damage, expected):
    load = load_with(["approved", "approved", "rejected", "accepted"])
    events, per_item, counter = healthy(load)
    a, rejected = load.items[0], load.items[2]
    if damage == "publish_twice":
        events.append(ev(99, "item.published", a.id))
        per_item[a.id].append(events[-1])
    elif damage == "second_draft":
        events.append(ev(99, "item.drafted", "stray", title=a.title))
    elif damage == "decide_twice":
        per_item[a.id].append(ev(99, "review.decided", a.id, submission=1, stage="recheck"))
    elif damage == "lose_publication":
        per_item[a.id] = [e for e in per_item[a.id] if e.envelope.type != "item.published"]
    elif damage == "two_numbers":
        counter.append(ev(99, "index.assigned", f"{ORG}-2026", seq=3, index_no="N-3", item_id=a.id))
    elif damage == "gap_in_numbers":
        counter[1].envelope.payload["seq"] = 3
    elif damage == "publish_rejected":
        per_item[rejected.id].append(ev(99, "item.published", rejected.id))
    problems = problems_of(load, events, per_item, counter)
    assert any(expected in p for p in problems), problems
