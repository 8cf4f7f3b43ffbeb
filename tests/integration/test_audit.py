"""Tamper evidence on a real nats-server: every append chains to the previous event of its subject, and
`gongkai audit verify` passes an untouched log and names the first altered, removed, inserted or reordered
event of a tampered one.

Our stream forbids delete and purge, so the tampering tests build their log in a stream of the same name
and subjects created without those guards: they delete in place (`delete_msg`), or read every message,
change the list, delete the stream and write the list back with its headers (a rewrite, as someone with
write access to the stream's files could do)."""

import asyncio
import contextlib
import os
import subprocess
import sys
import uuid
from pathlib import Path

import orjson
import pytest
from nats.js import api
from nats.js.errors import NotFoundError

from contracts import subjects
from contracts.envelope import Actor, Envelope
from contracts.items import ItemDrafted, ItemRevised
from contracts.subjects import event_subject
from gongkai import audit
from gongkai.cli import main
from gongkai.eventlog import DIGEST, GENESIS, PREV_DIGEST, EventLog, chain_digest, encode

BIN = Path(sys.executable).parent
EXPECTED = api.Header.EXPECTED_LAST_SUBJECT_SEQUENCE
N_FAST = 10_000


def drafted(item_id: str, title: str = "t") -> Envelope:
    return Envelope.wrap(ItemDrafted(kind="proactive", category="meetings", title=title, author="a"),
                         aggregate_id=item_id, org="o", actor=Actor(user="a"))


def revised(item_id: str, title: str) -> Envelope:
    return Envelope.wrap(ItemRevised(changes={"title": title}), aggregate_id=item_id, org="o", actor=Actor(user="a"))


def tamperable() -> api.StreamConfig:
    """Our stream's name and subjects, without deny_delete and deny_purge."""
    return api.StreamConfig(name=subjects.STREAM, subjects=subjects.STREAM_SUBJECTS, storage=api.StorageType.FILE,
                            allow_direct=True, allow_atomic=True, duplicate_window=120.0)


@pytest.fixture
async def log(fresh_nats):
    log = await EventLog.connect(fresh_nats.url)
    yield log
    await log.close()


async def history(log: EventLog) -> dict[str, tuple[str, int]]:
    """Three items, interleaved, one of them given two revisions and the third drafted in one atomic batch:
    name -> (subject, stream sequence).

    seq: 1 a1  2 b1  3 a2  4 b2  5 a3  6 a4  7 a5  8 c1  9 b3  10 a6
    """
    a, b, c = (str(uuid.uuid4()) for _ in range(3))
    sa, sb, sc = (event_subject("item", x) for x in (a, b, c))
    out: dict[str, tuple[str, int]] = {}
    out["a1"] = sa, await log.append(sa, drafted(a), 0)
    out["b1"] = sb, await log.append(sb, drafted(b), 0)
    out["a2"] = sa, await log.append(sa, revised(a, "a2"), out["a1"][1])
    out["b2"] = sb, await log.append(sb, revised(b, "b2"), out["b1"][1])
    out["a3"] = sa, await log.append(sa, revised(a, "a3"), out["a2"][1])
    seqs = await log.append_atomic([(sa, revised(a, "a4"), out["a3"][1]), (sa, revised(a, "a5"), -1),
                                    (sc, drafted(c), 0)])
    out["a4"], out["a5"], out["c1"] = (sa, seqs[0]), (sa, seqs[1]), (sc, seqs[2])
    out["b3"] = sb, await log.append(sb, revised(b, "b3"), out["b2"][1])
    out["a6"] = sa, await log.append(sa, revised(a, "a6"), out["a5"][1])
    assert [s for _, s in out.values()] == list(range(1, 11))
    return out


async def messages(log: EventLog) -> list[tuple[str, dict, bytes]]:
    """Every stored message, in order, as (subject, stored headers, payload bytes)."""
    out = []
    for seq in range(1, await log.head() + 1):
        try:
            msg = await log.js.get_msg(log.stream, seq=seq, direct=True)
        except NotFoundError:
            continue
        headers = {k: v for k, v in (msg.headers or {}).items()
                   if k in (api.Header.MSG_ID, EXPECTED) or not k.startswith("Nats-")}
        out.append((msg.subject, headers, msg.data))
    return out


async def rewrite(log: EventLog, msgs: list[tuple[str, dict, bytes]], *, in_place: bool = False) -> None:
    """Replace the stream by `msgs`. `in_place` keeps each message's expected-sequence header, as a message
    edited in the stream's files keeps it (valid only when every message keeps its sequence)."""
    for _ in range(50):  # the server may still hold the old stream for a moment after deleting it
        await log.js.delete_stream(log.stream)
        with contextlib.suppress(NotFoundError):
            while True:
                await log.js.stream_info(log.stream)
                await asyncio.sleep(0.01)
        if (await log.js.add_stream(tamperable())).state.messages == 0:
            break
    else:
        raise AssertionError("could not replace the stream")
    for subject, headers, data in msgs:
        h = {k: v for k, v in headers.items() if in_place or k != EXPECTED}
        await log.js.publish(subject, data, headers=h)


def altered(data: bytes, title: str = "forged") -> bytes:
    obj = orjson.loads(data)
    obj["payload"]["changes"]["title"] = title
    return orjson.dumps(obj)


def cli(url: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GONGKAI_")}
    env["GONGKAI_NATS_URL"] = url
    return subprocess.run([str(BIN / "gongkai"), "audit", *args], env=env, capture_output=True, text=True,
                          timeout=60)


def first(report: audit.Report) -> audit.Problem:
    assert not report.ok, "the tampering was not detected"
    return report.problems[0]


async def test_an_untouched_log_verifies_and_the_cli_exits_0(fresh_nats, log, capsys):
    await log.ensure_stream()  # the real stream: no delete, no purge
    await history(log)
    r = cli(fresh_nats.url, "verify")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "10 events checked on 3 subjects, sequences 1–10" in r.stdout
    assert "10 chained, 0 unchained" in r.stdout and "OK:" in r.stdout

    r = cli(fresh_nats.url, "head")
    anchor = r.stdout.strip()
    assert r.returncode == 0 and anchor == (await audit.verify(log)).anchor and anchor.startswith("10:")
    item = str(uuid.uuid4())
    await log.append(event_subject("item", item), drafted(item), 0)  # the log goes on
    r = cli(fresh_nats.url, "verify", "--json", "--anchor", anchor)
    report = orjson.loads(r.stdout)
    assert r.returncode == 0 and report["ok"] and report["problems"] == [], r.stdout + r.stderr
    assert (report["events"], report["chained"], report["first_seq"], report["last_seq"]) == (11, 11, 1, 11)
    assert report["anchors_checked"] == [anchor] and report["anchor"].startswith("11:")
    r = cli(fresh_nats.url, "verify", "--anchor", "10:" + "ab" * 32)
    assert r.returncode == 1 and "TAMPERED: seq 10" in r.stdout and "differs from the anchor" in r.stdout

    assert main(["audit", "verify", "--anchor", "10:nonsense"]) == 1
    assert "not an anchor" in capsys.readouterr().err


async def test_each_event_carries_the_digest_of_the_one_before_on_its_subject(fresh_nats, log):
    await log.ensure_stream()
    h = await history(log)
    stored = await log.load(h["a1"][0])
    assert [st.seq for st in stored] == [1, 3, 5, 6, 7, 10]
    prev = GENESIS
    for st in stored:
        assert st.headers[PREV_DIGEST] == prev
        assert st.digest == st.headers[DIGEST] == chain_digest(prev, h["a1"][0], encode(st.envelope))
        prev = st.digest
    # in the atomic batch the subject's second event carries no expected sequence and chains to the first
    assert EXPECTED in stored[3].headers and EXPECTED not in stored[4].headers

    # another process (nothing remembered) appends after the last event: the same chain, read once
    other = EventLog(log.nc)
    seq = await other.append(h["a1"][0], revised("x", "other"), h["a6"][1])
    assert (await log.last(h["a1"][0])).headers[PREV_DIGEST] == stored[-1].digest
    # a retried append (its ack lost) is stored once, and the chain stays whole
    env = revised("x", "retried")
    assert await other.append(h["a1"][0], env, seq) == await other.append(h["a1"][0], env, seq)
    report = await audit.verify(log)
    assert report.ok and report.events == 12 and report.chained == 12, report.problems


async def test_an_altered_payload_is_named(fresh_nats, log):
    await log.js.add_stream(tamperable())
    h = await history(log)
    msgs = await messages(log)
    subject, headers, data = msgs[2]  # a2
    msgs[2] = subject, headers, altered(data)
    await rewrite(log, msgs)
    p = first(await audit.verify(log))
    assert (p.seq, p.subject, p.kind, p.what) == (h["a2"][1], subject, "altered", "payload altered")
    assert p.event_id == headers[api.Header.MSG_ID] and p.event_type == "item.revised"

    r = cli(fresh_nats.url, "verify")
    assert r.returncode == 1
    assert f"TAMPERED: seq 3, {subject}, event {p.event_id}, item.revised: payload altered" in r.stdout


@pytest.mark.parametrize("in_place", [True, False], ids=["in place", "rewritten"])
async def test_an_altered_payload_with_its_digest_recomputed_is_found_by_the_next_event(log, in_place):
    """The forger rewrote the event's own digest too: the next event of its subject still holds the old one.
    In place, its expected-sequence header says which event it followed, so the altered one is named."""
    await log.js.add_stream(tamperable())
    h = await history(log)
    msgs = await messages(log)
    subject, headers, data = msgs[4]  # a3, followed on its subject by a4 (seq 6)
    forged = altered(data)
    msgs[4] = subject, {**headers, DIGEST: chain_digest(headers[PREV_DIGEST], subject, forged)}, forged
    await rewrite(log, msgs, in_place=in_place)
    p = first(await audit.verify(log))
    if in_place:
        assert (p.seq, p.kind, p.what) == (h["a3"][1], "altered", "payload altered")
    else:
        assert (p.seq, p.kind, p.what) == (h["a4"][1], "previous_missing", "previous event missing")
        assert "that event was altered" in p.detail


async def test_an_altered_header_is_named(log):
    await log.js.add_stream(tamperable())
    h = await history(log)
    original = await messages(log)
    msgs = list(original)
    subject, headers, data = msgs[3]  # b2
    msgs[3] = subject, {**headers, PREV_DIGEST: "f" * 64}, data
    await rewrite(log, msgs)
    p = first(await audit.verify(log))
    assert (p.seq, p.kind, p.what) == (h["b2"][1], "header_altered", "header altered")

    msgs = list(original)
    subject, headers, data = msgs[8]  # b3
    msgs[8] = subject, {**headers, "Gongkai-Type": "item.published"}, data
    await rewrite(log, msgs)
    p = first(await audit.verify(log))
    assert (p.seq, p.kind, p.event_type) == (h["b3"][1], "header_altered", "item.revised")


async def test_a_removed_event_is_named(log):
    await log.js.add_stream(tamperable())
    h = await history(log)
    original = await messages(log)
    # in place: the stream's sequence has a hole
    await log.js.delete_msg(log.stream, h["a2"][1])
    report = await audit.verify(log)
    p = first(report)
    assert (p.seq, p.kind, p.what) == (h["b2"][1], "gap", "sequence gap at 3")
    assert [(q.seq, q.kind) for q in report.problems] == [(4, "gap"), (h["a3"][1], "previous_missing")]

    # rewritten and renumbered without it: the next event of its subject does not chain
    await rewrite(log, original[:2] + original[3:])
    p = first(await audit.verify(log))
    assert (p.seq, p.subject, p.kind, p.what) == (4, h["a3"][0], "previous_missing", "previous event missing")


async def test_an_inserted_event_is_named(log):
    await log.js.add_stream(tamperable())
    h = await history(log)
    original = await messages(log)
    sb = h["b1"][0]
    forged = encode(revised("b", "inserted"))
    unchained = (sb, {"Gongkai-Type": "item.revised"}, forged)
    b2_digest = original[3][1][DIGEST]
    well_formed = (sb, {"Gongkai-Type": "item.revised", PREV_DIGEST: b2_digest,
                        DIGEST: chain_digest(b2_digest, sb, forged)}, forged)
    garbage = (sb, {"Gongkai-Type": "item.revised", PREV_DIGEST: "e" * 64,
                    DIGEST: chain_digest("e" * 64, sb, forged)}, forged)
    for msg in (unchained, well_formed, garbage):
        await rewrite(log, [*original[:5], msg, *original[5:]])  # between b2 (seq 4) and b3 (now seq 10)
        report = await audit.verify(log)
        p = first(report)
        assert (p.seq, p.subject, p.kind, p.what) == (6, sb, "inserted", "inserted"), report.problems
        assert len(report.problems) == 1, report.problems  # b3 after it is fine


async def test_reordered_events_are_named(log):
    await log.js.add_stream(tamperable())
    h = await history(log)
    msgs = await messages(log)
    msgs[1], msgs[3] = msgs[3], msgs[1]  # b2 before b1
    await rewrite(log, msgs)
    report = await audit.verify(log)
    p = first(report)
    assert (p.seq, p.subject, p.kind, p.what) == (2, h["b1"][0], "reordered", "reordered"), report.problems
    assert len(report.problems) == 1


async def test_removing_the_last_event_of_an_aggregate(log):
    """In place: a sequence gap, also at the very end of the stream. From a rewritten, renumbered stream the
    chains cannot tell (the report says so); an anchor recorded before detects it."""
    await log.js.add_stream(tamperable())
    h = await history(log)
    original = await messages(log)
    anchor = (await audit.verify(log)).anchor
    c = await log.append(h["a1"][0], revised("a", "after the anchor"), h["a6"][1])

    await log.js.delete_msg(log.stream, h["c1"][1])  # c's only (so last) event
    p = first(await audit.verify(log))
    assert (p.seq, p.kind, p.what) == (h["b3"][1], "gap", "sequence gap at 8")
    await log.js.delete_msg(log.stream, c)  # the stream's last event
    report = await audit.verify(log)
    assert [(q.seq, q.kind, q.what) for q in report.problems] == [
        (9, "gap", "sequence gap at 8"), (11, "gap", "sequence gap at 11")]

    await rewrite(log, original[:8] + original[9:])  # b3 (seq 9), b's last event, gone
    report = await audit.verify(log)
    assert report.ok and report.events == 9
    assert any("last event(s) of a subject" in text and "anchor" in text for text in report.limitations)
    seq, digest = audit.parse_anchor(anchor)
    p = first(await audit.verify(log, anchors={seq: digest}))
    assert (p.seq, p.kind) == (10, "anchor") and "events were removed" in p.detail

    await rewrite(log, original[:8] + original[9:] + [original[8]])  # b3 moved to the end instead
    p = first(await audit.verify(log, anchors={seq: digest}))
    assert (p.seq, p.kind, p.what) == (10, "anchor", "differs from the anchor recorded at this sequence")


async def test_events_written_before_tamper_evidence(fresh_nats, log):
    await log.js.add_stream(tamperable())
    s1, s2 = event_subject("item", "old-1"), event_subject("item", "old-2")

    async def legacy(subject: str, env: Envelope) -> int:  # as appends did before tamper evidence
        last = await log.last_seq(subject)
        return (await log.js.publish(subject, encode(env), stream=log.stream, headers={
            api.Header.MSG_ID: env.event_id, EXPECTED: str(last), "Gongkai-Type": env.type})).seq

    await legacy(s1, drafted("old-1"))
    await legacy(s2, drafted("old-2"))
    await legacy(s1, revised("old-1", "v2"))
    last = await legacy(s2, revised("old-2", "v2"))
    await legacy(s1, revised("old-1", "v3"))
    await EventLog(log.nc).append(s1, revised("old-1", "chained"), 5)  # nothing remembered: reads s1 once
    report = await audit.verify(log)
    assert report.ok and (report.unchained, report.chained) == (5, 1), report.problems
    r = cli(fresh_nats.url, "verify")
    assert r.returncode == 0 and "1 chained, 5 unchained (written before tamper evidence)" in r.stdout

    original = await messages(log)
    # the chained event commits to the unchained ones before it on its subject
    msgs = list(original)
    msgs[0] = msgs[0][0], msgs[0][1], msgs[0][2].replace(b'"title":"t"', b'"title":"x"')
    assert msgs[0] != original[0]
    await rewrite(log, msgs)
    p = first(await audit.verify(log))
    assert (p.seq, p.subject, p.kind) == (6, s1, "previous_missing")
    # an unchained event with no chained one after it on its subject is not covered (a stated limitation)
    msgs = list(original)
    msgs[last - 1] = msgs[last - 1][0], msgs[last - 1][1], altered(msgs[last - 1][2])
    await rewrite(log, msgs)
    report = await audit.verify(log)
    assert report.ok and any("unchained" in text for text in report.limitations)

    # an unchained event after a chained one on the same subject is not an old event: inserted
    await rewrite(log, original)
    seq = await legacy(s1, revised("old-1", "late"))
    p = first(await audit.verify(log))
    assert (p.seq, p.kind, p.what) == (seq, "inserted", "inserted")


async def test_verify_walks_a_log_of_many_subjects(fresh_nats, log):
    """Every event of a pipelined log of 1,000 chains is read and checked (its speed: `bench/audit_bench.py`)."""
    await log.ensure_stream()
    tips: dict[str, str] = {}
    futures = []
    for i in range(N_FAST):  # pipelined, with the headers an append writes
        item = f"bulk-{i % 1000}"
        subject = event_subject("item", item)
        env = revised(item, f"v{i}") if subject in tips else drafted(item)
        data, prev = encode(env), tips.get(subject, GENESIS)
        tips[subject] = chain_digest(prev, subject, data)
        futures.append(await log.js.publish_async(subject, data, headers={
            api.Header.MSG_ID: env.event_id, "Gongkai-Type": env.type, PREV_DIGEST: prev, DIGEST: tips[subject]}))
        if len(futures) == 2000:
            await asyncio.gather(*futures)
            futures = []
    await asyncio.gather(*futures)
    reader = await audit.connect(fresh_nats.url)
    try:
        report = await audit.verify(reader)
    finally:
        await reader.close()
    assert report.ok and report.events == N_FAST and report.subjects == 1000
