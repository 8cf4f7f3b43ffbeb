"""Tamper evidence of the event log: `gongkai audit verify` and `gongkai audit head`.

The chain (written by `gongkai.eventlog` on every append, with no change to its callers): each event's headers
carry `Gongkai-Prev-Digest`, the chain digest of the previous event on its subject (`GENESIS` for the first),
and `Gongkai-Digest`, its own, `chain_digest(prev, subject, payload bytes)`. `verify` walks the whole stream in
order and recomputes every digest from the stored bytes; it also checks that the stream's sequence numbers run
from 1 without a hole, and folds every event into a stream digest, `S(n) = sha256(S(n-1), n, digest(n))`,
whose value at the head is the *anchor* (`N:hex`) that `gongkai audit head` prints for recording outside the
system; `verify --anchor N:hex` checks that the log up to N is still exactly the one anchored.

What detects what (the first bad event by stream sequence is named; `--json` lists them all):

- **altered payload**: the event's recomputed digest differs from its `Gongkai-Digest` ("payload altered").
  If the forger rewrote that header too, the next event of the subject still holds the old digest as its
  previous one: with the message written in place (its `Nats-Expected-Last-Subject-Sequence` still names the
  altered event) the altered event is named, otherwise the next one ("previous event missing").
- **altered header**: `Gongkai-Prev-Digest` changed: the event's own digest no longer matches
  ("header altered"); `Gongkai-Type` or `Nats-Msg-Id` not those of the payload ("header altered").
  Other headers (`traceparent`, …) carry no record and are not covered.
- **removed event**: in place, the stream sequence has a hole ("sequence gap at N"); in a rewritten,
  renumbered stream, the next event of its subject does not chain to the one before it ("previous event
  missing").
- **inserted event**: one with no chain headers after chained events of its subject, or whose successor
  chains to the event before it ("inserted"); one appended at the end of a subject with valid headers by
  someone who may write to the stream is a new event, not tampering: who may write is NATS's permissions.
- **reordered events**: an event whose predecessor on its subject comes after it ("reordered"). Events of
  *different* subjects swapped, each subject keeping its own order, leave every chain whole: only an anchor
  detects that.
- **removed last event(s) of a subject, or a whole subject**: in place, a sequence gap; removed from the very
  end of the stream, the stream's last sequence (kept by JetStream) lies beyond the last event ("sequence
  gap"). In a stream rewritten and renumbered without them, **no chain can tell**: only an anchor recorded
  before detects it.
- **everything rewritten**: someone with write access to the stream's files can recompute every chain from
  the altered event on, and the log then verifies. Only an anchor recorded outside the system (printed,
  signed, sent to the archive or the 政务公开 office) detects that: `verify --anchor` fails at that sequence.

Events written before tamper evidence have no chain headers: they are counted as "unchained (written before
tamper evidence)" and do not fail; the chain of their subject starts from a digest over them, so the first
chained event after them detects an alteration of any of them. An unchained event after a chained one on
the same subject fails ("inserted").
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import nats
import orjson
from nats.js import api

from contracts import subjects
from gongkai.eventlog import DIGEST, GENESIS, PREV_DIGEST, EventLog, chain_digest
from gongkai.pull import Reader, seq_of, servers

EXPECTED_LAST = api.Header.EXPECTED_LAST_SUBJECT_SEQUENCE
RECENT = 3  # events of a subject kept to name an inserted or reordered one
MAX_PROBLEMS = 1000
PULL_BATCH = 5000

LIMITATIONS = [
    "The removal of the last event(s) of a subject, or of a whole subject, from a stream that was rewritten "
    "and renumbered is not detectable by the chains (removal in place is: a sequence gap); only an anchor "
    "recorded before (`gongkai audit head`, checked with `--anchor`) detects it.",
    "Someone with write access to the stream's files can rewrite every chain from an altered event on; only "
    "an anchor recorded outside the system detects that.",
    "Events of different subjects swapped, each subject keeping its own order, leave every chain whole; only "
    "an anchor detects that.",
    "An event written before tamper evidence (unchained) is covered only when a chained event follows it on "
    "its subject.",
    "Headers other than the chain's, Gongkai-Type and Nats-Msg-Id (e.g. traceparent) are not covered.",
]


@dataclass
class Problem:
    seq: int
    subject: str | None
    event_id: str | None
    event_type: str | None
    kind: str  # altered | header_altered | previous_missing | inserted | reordered | gap | not_an_event | anchor
    what: str
    detail: str = ""

    def line(self) -> str:
        where = ", ".join(x for x in (f"seq {self.seq}", self.subject, self.event_id and f"event {self.event_id}",
                                      self.event_type) if x)
        return f"{where}: {self.what}" + (f" ({self.detail})" if self.detail else "")


@dataclass
class Report:
    stream: str
    events: int = 0
    subjects: int = 0
    chained: int = 0
    unchained: int = 0
    first_seq: int = 0
    last_seq: int = 0
    seconds: float = 0.0
    anchor: str | None = None  # `N:hex` at the head, if the walk reached it
    anchors_checked: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    limitations: list[str] = field(default_factory=lambda: list(LIMITATIONS))

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, **asdict(self), "rate": round(self.rate)}


def parse_anchor(text: str) -> tuple[int, str]:
    seq, _, digest = text.strip().partition(":")
    if not seq.isdigit() or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError(f"not an anchor (SEQ:DIGEST as printed by `gongkai audit head`): {text!r}")
    return int(seq), digest


class _Subject:
    __slots__ = ("chained", "last_seq", "recent", "tip")

    def __init__(self) -> None:
        self.tip = GENESIS  # the digest the subject's next event must carry as its previous one
        self.chained = False
        self.last_seq = 0
        # the last few events taken into the chain: (tip before it, seq, event id, type, its prev header, digest)
        self.recent: list[tuple[str, int, str | None, str | None, str | None, str]] = []


class Checker:
    """Feed it every message of the stream in order (`feed`), then `finish`."""

    def __init__(self, stream: str, anchors: dict[int, str] | None = None) -> None:
        self.report = Report(stream=stream)
        self.anchors = dict(anchors or {})
        self.subjects: dict[str, _Subject] = {}
        self.problems: dict[int, Problem] = {}  # by sequence: a later event may explain an earlier one
        self.next_seq = 1
        self.stream_digest = GENESIS

    def _problem(self, p: Problem, *, replace: bool = False) -> None:
        if p.seq in self.problems:
            if replace:
                self.problems[p.seq] = p
        elif len(self.problems) < MAX_PROBLEMS:
            self.problems[p.seq] = p

    def feed(self, seq: int, subject: str, headers: dict[str, str] | None, data: bytes) -> None:
        r = self.report
        h = headers or {}
        try:
            obj = orjson.loads(data)
            event_id, event_type = obj["event_id"], obj["type"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            obj, event_id, event_type = None, h.get(api.Header.MSG_ID), h.get("Gongkai-Type")
        if seq > self.next_seq:
            self._problem(Problem(seq, subject, event_id, event_type, "gap", f"sequence gap at {self.next_seq}",
                                  f"events {self.next_seq}–{seq - 1} before it are missing"
                                  if seq - 1 > self.next_seq else f"event {self.next_seq} before it is missing"))
        self.next_seq = seq + 1
        r.events += 1
        r.first_seq = r.first_seq or seq
        r.last_seq = seq
        st = self.subjects.get(subject)
        if st is None:
            st = self.subjects[subject] = _Subject()

        def problem(kind: str, what: str, detail: str = "", at: int = seq, replace: bool = False) -> None:
            self._problem(Problem(at, subject, event_id, event_type, kind, what, detail), replace=replace)

        prev = h.get(PREV_DIGEST)
        if prev is None:
            digest = chain_digest(st.tip, subject, data)
            if st.chained:
                problem("inserted", "inserted", "it has no chain headers but comes after chained events of its "
                                                "subject (written before tamper evidence only at the start)")
            else:
                r.unchained += 1
                st.tip = digest
                st.last_seq = seq
        else:
            r.chained += 1
            digest = self._chained(st, seq, subject, h, data, prev, event_id, event_type, problem)
        if obj is None:
            problem("not_an_event", "not an event", "the payload is not a readable event envelope")
        elif (h.get("Gongkai-Type") not in (None, event_type)
              or h.get(api.Header.MSG_ID) not in (None, event_id)):
            problem("header_altered", "header altered", "Gongkai-Type or Nats-Msg-Id is not the payload's")
        self.stream_digest = hashlib.sha256(b"%s\n%d\n%s" % (self.stream_digest.encode(), seq,
                                                             digest.encode())).hexdigest()
        if seq in self.anchors:
            anchored = self.anchors.pop(seq)
            r.anchors_checked.append(f"{seq}:{anchored}")
            if anchored != self.stream_digest:
                problem("anchor", "differs from the anchor recorded at this sequence",
                        "some event up to here was altered, removed, inserted or reordered since the anchor "
                        "was recorded")

    def _chained(self, st: _Subject, seq: int, subject: str, h: dict[str, str], data: bytes, prev: str,
                 event_id: str | None, event_type: str | None, problem) -> str:
        digest = chain_digest(prev, subject, data)
        stored = h.get(DIGEST)
        tip_before = st.tip
        st.chained = True
        if prev == st.tip:
            if stored is None:
                problem("header_altered", "header altered", "its Gongkai-Digest header is missing")
                st.tip = digest
            elif stored != digest:
                problem("altered", "payload altered", "its bytes do not give the digest stored with it")
                st.tip = stored  # what the next event of the subject was chained to
            else:
                st.tip = digest
        elif stored is not None and stored == chain_digest(st.tip, subject, data):
            problem("header_altered", "header altered", "its Gongkai-Prev-Digest header was changed")
            st.tip = stored
        else:
            st.tip = digest  # go on from here, so one break is reported once
            match = next((i for i in range(len(st.recent) - 1, -1, -1) if st.recent[i][0] == prev), None)
            if match is not None:
                _, mseq, mid, mtype, mprev, _ = st.recent[match]
                if mprev == digest:  # its predecessor came after it
                    self._problem(Problem(mseq, subject, mid, mtype, "reordered", "reordered",
                                          f"its previous event (seq {seq}) comes after it"), replace=True)
                    st.tip = st.recent[-1][5]  # the chain went on from the events after it
                else:
                    self._problem(Problem(mseq, subject, mid, mtype, "inserted", "inserted",
                                          f"the subject's chain goes on from the event before it (at seq {seq})"),
                                  replace=True)
                    del st.recent[match:]
            elif h.get(EXPECTED_LAST) == str(st.last_seq) and st.recent and st.recent[-1][1] == st.last_seq:
                # written in place after the subject's previous event, which no longer is what it was chained to
                _, pseq, pid, ptype, _, _ = st.recent[-1]
                self._problem(Problem(pseq, subject, pid, ptype, "altered", "payload altered",
                                      f"the next event of its subject (seq {seq}), written right after it, was "
                                      "chained to other contents: its own digest header was rewritten too (or "
                                      f"the chain headers of seq {seq} were)"), replace=True)
            else:
                written_after = h.get(EXPECTED_LAST)
                problem("previous_missing", "previous event missing",
                        "its chain does not continue from the subject's event before it"
                        + (f" (seq {st.last_seq})" if st.last_seq else " (it has none)")
                        + (f"; it was written after seq {written_after}" if written_after else "")
                        + ": that event or events between them were removed, or that event was altered")
            if stored is not None and stored != digest and match is None:
                problem("altered", "payload altered", "and its bytes do not give the digest stored with it")
        st.recent.append((tip_before, seq, event_id, event_type, prev, digest))
        if len(st.recent) > RECENT:
            del st.recent[0]
        st.last_seq = seq
        return digest

    def finish(self, head: int, seconds: float) -> Report:
        r = self.report
        if head >= self.next_seq:
            self._problem(Problem(self.next_seq, None, None, None, "gap", f"sequence gap at {self.next_seq}",
                                  f"events {self.next_seq}–{head} at the end of the stream are missing"))
        for seq, digest in sorted(self.anchors.items()):  # not reached
            r.anchors_checked.append(f"{seq}:{digest}")
            self._problem(Problem(seq, None, None, None, "anchor", "anchored sequence missing",
                                  f"the log ends at {r.last_seq} (or lost this event) but an anchor was recorded "
                                  f"at {seq}: events were removed"))
        r.subjects = len(self.subjects)
        r.seconds = seconds
        r.problems = [self.problems[s] for s in sorted(self.problems)]
        if r.last_seq and r.last_seq == head:
            r.anchor = f"{head}:{self.stream_digest}"
        return r


async def connect(nats_url: str, stream: str = subjects.STREAM) -> EventLog:
    nc = await nats.connect(servers(nats_url), name="gongkai-audit", connect_timeout=5, max_reconnect_attempts=3,
                            reconnect_time_wait=0.5)
    return EventLog(nc, stream)


async def verify(log: EventLog, *, anchors: dict[int, str] | None = None, progress=None) -> Report:
    """Walk the whole stream of `log` up to its head (as it is when the walk starts) and check it.

    A pull consumer without acks, driven by hand in batches (`pull.Reader`, half again as fast as an ordered
    push consumer in nats-py); a message deleted in place is simply not delivered, which the checker sees.
    """
    t0 = time.monotonic()
    checker = Checker(log.stream, anchors)
    info = await log.js.stream_info(log.stream)
    head = info.state.last_seq
    if head == 0 or not info.state.messages:
        return checker.finish(head, time.monotonic() - t0)
    reader = Reader(log, head, PULL_BATCH)
    await reader.open(1)
    try:
        while True:
            msgs = await reader.take()
            if not msgs:
                raise RuntimeError(f"the log stopped delivering after sequence {checker.report.last_seq} "
                                   f"of {head}")
            for msg in msgs:
                seq = seq_of(msg)
                if seq > head:  # appended after the walk began (what was deleted made room for it in a batch)
                    break
                checker.feed(seq, msg.subject, msg.headers, msg.data)
                if progress is not None and seq % 5000 == 0:
                    progress(seq, head)
            if reader.last >= head or reader.ended:
                break
    finally:
        await reader.close()
    return checker.finish(head, time.monotonic() - t0)


def _summary(r: Report) -> str:
    lines = [f"{r.events:,} events checked on {r.subjects:,} subjects"
             + (f", sequences {r.first_seq}–{r.last_seq}" if r.events else "")
             + f", in {r.seconds:.1f} s ({r.rate:,.0f} events/s)"]
    lines.append(f"  {r.chained:,} chained, {r.unchained:,} unchained (written before tamper evidence)")
    for a in r.anchors_checked:
        lines.append(f"  anchor {a} checked")
    if r.anchor:
        lines.append(f"  head anchor {r.anchor}")
    return "\n".join(lines)


def run(nats_url: str, action: str, *, as_json: bool = False, anchors: list[str] | None = None,
        stream: str = subjects.STREAM) -> int:
    """`gongkai audit verify|head`: 0 for an untouched log, 1 otherwise."""
    wanted = dict(parse_anchor(a) for a in anchors or [])
    tty = sys.stderr.isatty() and not as_json

    def progress(seq: int, head: int) -> None:
        print(f"\rverifying {seq}/{head} …", end="", file=sys.stderr, flush=True)

    async def walk() -> Report:
        log = await connect(nats_url, stream)
        try:
            return await verify(log, anchors=wanted, progress=progress if tty else None)
        finally:
            await log.close()

    report = asyncio.run(walk())
    if tty:
        print("\r" + " " * 40 + "\r", end="", file=sys.stderr, flush=True)
    if as_json:
        print(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
    elif action == "head":  # just the anchor, for `gongkai audit head >> anchors.txt`
        if report.ok:
            print(report.anchor or f"0:{GENESIS}")
        else:
            print(f"gongkai audit head: the log does not verify: {report.problems[0].line()}", file=sys.stderr)
    else:
        print(_summary(report))
        if report.ok:
            print("OK: every chain is unbroken and the stream has no gap"
                  + ("" if report.anchors_checked else "; record the head anchor outside the system "
                     "(`gongkai audit head`) to detect a later rewrite"))
        else:
            print(f"TAMPERED: {report.problems[0].line()}")
            if len(report.problems) > 1:
                print(f"  and {len(report.problems) - 1} more problem(s) after it; --json lists them all")
    return 0 if report.ok else 1
