"""Synthetic event streams: a city's disclosure work as the log would hold it, made of the real event classes
(`contracts/`) wrapped in the real envelope (`Envelope.wrap`), published pipelined to a stream created with the
real configuration (`EventLog.ensure_stream`).

`city(n)` yields about `n` events of `orgs` departments over the last two years, in the order a live system
writes them: about a thousand aggregates in flight at once (so a fold cannot keep an item's rows from one event
to the next for free), each following a lifecycle drawn with these weights —

- items (≈ 85 % of aggregates): approved at 初审 and 复核 and published with its 索引号 (most), returned and
  resubmitted, escalated to the leader, rejected with an Art. 14–16 reason, withdrawn, overdue at a stage;
  proactive items in the seed's categories, some 政策解读 and 回应社会关切;
- applications (≈ 12 %): received, sometimes a fee notice and its payment or an extension, an answer through
  the chain, answered with a table-三 outcome; a few lead to a 复议/诉讼 case that is later decided;
- 建议/提案 (≈ 3 %): received and answered;
- per org and year: narrative texts of the report and the table-二 figures through the chain.

`imported(n, org)` yields `n` items an org brought in from before (one `item.imported` each): how an org gets
a hundred thousand items without a hundred thousand reviews.

Everything is drawn from a seeded `random.Random`, so two runs with the same arguments give the same stream
(ids and event ids included).
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

from nats.js import api

from contracts import subjects
from contracts.application_events import (
    AnswerSubmitted,
    Applicant,
    ApplicationAnswered,
    ApplicationClosed,
    ApplicationReceived,
    CaseDecided,
    CaseRecorded,
    ClockEventRecorded,
    FeeNotified,
    ProposalAnswered,
    ProposalReceived,
    ReportTextSet,
    ReportYearClosed,
    Section2Approved,
    Section2Figures,
    Section2Submitted,
)
from contracts.applications import ApplicantType, CaseKind, CaseResult, Channel, FeeMethod, Outcome
from contracts.envelope import Actor, Envelope, Event
from contracts.exemptions import REJECT_REASONS
from contracts.items import (
    DEFAULT_CATEGORIES,
    ChangeRequested,
    IndexAssigned,
    ItemDrafted,
    ItemImported,
    ItemMetadata,
    ItemPublished,
    ItemRetracted,
    ItemRevised,
    ItemSubmitted,
    ItemWithdrawn,
    Validity,
    ValidityChanged,
)
from contracts.lifecycle import SHANGHAI
from contracts.reviews import DecisionRecorded, ReviewOverdue
from gongkai.eventlog import EventLog, encode

CATEGORIES = list(DEFAULT_CATEGORIES)
BODY = ("为进一步做好政府信息公开工作，根据《中华人民共和国政府信息公开条例》，现将有关事项通知如下。"
        "各单位要高度重视，认真组织实施，确保各项工作落到实处。")
OUTCOMES = [(Outcome.GRANTED, 45), (Outcome.PARTIALLY_GRANTED, 12), (Outcome.DENIED_PROCESS_INFO, 4),
            (Outcome.DENIED_THIRD_PARTY_RIGHTS, 3), (Outcome.UNABLE_NOT_HELD, 20), (Outcome.UNABLE_NEEDS_CREATION, 4),
            (Outcome.NOT_PROCESSED_PETITION_COMPLAINT, 5), (Outcome.NOT_PROCESSED_DUPLICATE, 3)]
APPLICANTS = [(ApplicantType.NATURAL_PERSON, 80), (ApplicantType.COMMERCIAL_ENTERPRISE, 10),
              (ApplicantType.LEGAL_SERVICE_ORG, 5), (ApplicantType.OTHER_ORG, 5)]
ITEM_PLANS = [("publish", 70), ("returned", 8), ("escalated", 4), ("rejected", 3), ("withdrawn", 2), ("overdue", 3)]
REASONS = list(REJECT_REASONS)


def org_ids(n: int) -> list[str]:
    return [f"city-{i:03d}" for i in range(n)]


def _pick(rng: random.Random, weighted: list[tuple[object, int]]):
    return rng.choices([w[0] for w in weighted], [w[1] for w in weighted])[0]


class _Clock:
    """Simulated time: from 1 January of last year (Shanghai) to a little before now, spread over the stream."""

    def __init__(self, n_events: int, end: datetime | None = None):
        self.end = end or datetime.now(UTC) - timedelta(hours=1)
        self.start = datetime(self.end.astimezone(SHANGHAI).year - 1, 1, 1, 8, tzinfo=SHANGHAI).astimezone(UTC)
        self.step = (self.end - self.start) / max(n_events, 1)
        self.now = self.start

    def tick(self) -> datetime:
        self.now = min(self.now + self.step, self.end)
        return self.now

    def day(self) -> date:
        return self.now.astimezone(SHANGHAI).date()


class City:
    """The state of the generator: orgs, their 索引号 counters, the ids it hands out."""

    def __init__(self, n_events: int, *, orgs: int = 100, seed: int = 1, in_flight: int = 1000):
        self.rng = random.Random(seed)
        self.n_events = n_events
        self.orgs = org_ids(orgs)
        self.clock = _Clock(n_events)
        self.in_flight = in_flight
        self.index: dict[tuple[str, int], int] = {}  # (org, year) → last 索引号 sequence
        self.subject_seq: dict[str, int] = {}
        self.seen_org_year: set[tuple[str, int]] = set()

    def uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def wrap(self, ev: Event, agg_id: str, org: str, user: str, *, aggregate: str | None = None,
             roles: list[str] | None = None, via: str | None = None) -> Envelope:
        return Envelope.wrap(ev, aggregate_id=agg_id, org=org, actor=Actor(user=user, roles=roles or [], via=via),
                             event_id=self.uid(), occurred_at=self.clock.tick(), aggregate=aggregate)

    # ---- lifecycles: generators of (subject, envelope); one step per next() ----

    def item(self, org: str) -> Iterator[tuple[str, Envelope]]:
        rng, item_id = self.rng, self.uid()
        subj = subjects.event_subject("item", item_id)
        plan = _pick(rng, ITEM_PLANS)
        kind = rng.choices(["proactive", "interpretation", "response"], [85, 10, 5])[0]
        category = rng.choice(CATEGORIES) if kind == "proactive" else None
        author, officer, head = f"{org}.author{rng.randrange(5)}", f"{org}.officer", f"{org}.head"
        wf = subjects.review_workflow_id("item", item_id, 1)
        meta = ItemMetadata(publisher=f"{org}办公室", doc_number=f"张政办〔{self.clock.day().year}〕{rng.randrange(1, 300)}号",
                            keywords=["公开", "通知"])
        yield subj, self.wrap(ItemDrafted(kind=kind, category=category, title=f"关于做好第{rng.randrange(10000)}项工作的通知",
                                          body=BODY, formed_on=self.clock.day(), metadata=meta, author=author),
                              item_id, org, author, roles=["author"])
        submission = 1

        def submitted():
            return subj, self.wrap(ItemSubmitted(submission=submission, workflow_id=wf), item_id, org, author,
                                   roles=["author"])

        def decided(stage: str, outcome: str, user: str, role: str, **extra):
            return subj, self.wrap(DecisionRecorded(submission=submission, stage=stage, outcome=outcome, decided_by=user,
                                                    roles=[role], workflow_id=wf, comment="同意" if outcome == "approve"
                                                    else "请修改", **extra),
                                   item_id, org, user, roles=[role], via=f"workflow:{wf}")

        yield submitted()
        if plan == "withdrawn":
            yield subj, self.wrap(ItemWithdrawn(reason="内容有误"), item_id, org, author, roles=["author"])
            return
        if plan == "overdue":
            yield subj, self.wrap(ReviewOverdue(submission=submission, deadline="stage", stage="initial",
                                                due_at=self.clock.now, remind_roles=["officer"]),
                                  item_id, org, "system", via=f"workflow:{wf}")
        if plan == "returned":
            yield decided("initial", "return", officer, "officer")
            yield subj, self.wrap(ItemRevised(changes={"title": "修改后的标题"}), item_id, org, author, roles=["author"])
            submission = 2
            wf = subjects.review_workflow_id("item", item_id, 2)
            yield submitted()
        yield decided("initial", "approve", officer, "officer")
        if plan == "rejected":
            yield decided("recheck", "reject", head, "section_head", reason_code=rng.choice(REASONS))
            return
        if plan == "escalated":
            yield decided("recheck", "escalate", head, "section_head")
            yield decided("leader", "approve", f"{org}.leader", "leader")
        else:
            yield decided("recheck", "approve", head, "section_head")
        yield from self._publish(org, item_id, subj, submission, wf)
        if rng.random() < 0.03:  # a change of the published item, reviewed like the item: 撤回 or 失效
            submission += 1
            wf = subjects.review_workflow_id("item", item_id, submission)
            change = rng.choice(["retract", "validity"])
            yield subj, self.wrap(ChangeRequested(submission=submission, workflow_id=wf, change=change, reason="已过时",
                                                  validity=Validity.EXPIRED if change == "validity" else None),
                                  item_id, org, author, roles=["author"])
            yield decided("initial", "approve", officer, "officer", purpose=change)
            yield decided("recheck", "approve", head, "section_head", purpose=change)
            if change == "retract":
                yield subj, self.wrap(ItemRetracted(submission=submission, retracted_at=self.clock.now, reason="已过时"),
                                      item_id, org, "system", via=f"workflow:{wf}")
            else:
                yield subj, self.wrap(ValidityChanged(submission=submission, validity=Validity.EXPIRED,
                                                      effective_on=self.clock.day()), item_id, org, "system",
                                      via=f"workflow:{wf}")

    def _publish(self, org: str, item_id: str, subj: str, submission: int, wf: str):
        now = self.clock.tick()
        year = now.astimezone(SHANGHAI).year
        n = self.index.get((org, year), 0) + 1
        self.index[(org, year)] = n
        index_no = f"{org}-{year}-{n:05d}"
        yield subjects.index_subject(org, year), self.wrap(
            IndexAssigned(year=year, seq=n, index_no=index_no, item_id=item_id), f"{org}-{year}", org, "system",
            via=f"workflow:{wf}")
        yield subj, self.wrap(ItemPublished(submission=submission, published_at=self.clock.now, index_no=index_no),
                              item_id, org, "system", via=f"workflow:{wf}")

    def application(self, org: str) -> Iterator[tuple[str, Envelope]]:
        rng, app_id = self.rng, self.uid()
        subj = subjects.event_subject("application", app_id)
        office = f"{org}.office"
        received = self.clock.day()
        yield subj, self.wrap(ApplicationReceived(
            applicant_type=_pick(rng, APPLICANTS), channel=rng.choice(list(Channel)), received_on=received,
            applicant=Applicant(name=f"申请人{rng.randrange(100000)}", id_number=f"3703{rng.randrange(10**13):013d}",
                                phone="13800000000", address="山东省淄博市张店区"),
            subject="申请公开某项目的审批文件", content="请公开某项目的立项审批文件及相关材料。", registered_by=office),
            app_id, org, office, roles=["office"])
        r = rng.random()
        if r < 0.03:  # asked to correct, never did: closed by the clock watch
            yield subj, self.wrap(ClockEventRecorded(kind="correction_requested", on=received), app_id, org, office,
                                  roles=["office"])
            yield subj, self.wrap(ApplicationClosed(outcome=Outcome.OTHER_NO_CORRECTION,
                                                    closed_on=max(received, self.clock.day())),
                                  app_id, org, "system", via="workflow:application-clock")
            return
        if r < 0.12:
            yield subj, self.wrap(FeeNotified(on=max(received, self.clock.day()), method=FeeMethod.PER_VOLUME,
                                              amount_yuan=rng.choice([700, 1700, 2700]), pages=rng.choice([100, 150, 200])),
                                  app_id, org, office, roles=["office"])
            yield subj, self.wrap(ClockEventRecorded(kind="fee_paid", on=max(received, self.clock.day())),
                                  app_id, org, office, roles=["office"])
        elif r < 0.17:
            yield subj, self.wrap(ClockEventRecorded(kind="extended", on=max(received, self.clock.day()), days=20,
                                                     approved_by=f"{org}.head"), app_id, org, office, roles=["office"])
        wf = subjects.review_workflow_id("application", app_id, 1)
        outcome = _pick(rng, OUTCOMES)
        yield subj, self.wrap(AnswerSubmitted(submission=1, workflow_id=wf, outcome=outcome, body="经审查，现答复如下。",
                                              drafted_by=office), app_id, org, office, roles=["office"])
        for stage, role in (("initial", "officer"), ("recheck", "section_head")):
            user = f"{org}.{role}"
            yield subj, self.wrap(DecisionRecorded(submission=1, stage=stage, outcome="approve", decided_by=user,
                                                   roles=[role], workflow_id=wf, comment="同意"),
                                  app_id, org, user, aggregate="application", roles=[role], via=f"workflow:{wf}")
        yield subj, self.wrap(ApplicationAnswered(submission=1, outcome=outcome, answered_on=max(received, self.clock.day())),
                              app_id, org, "system", via=f"workflow:{wf}")
        if rng.random() < 0.04:
            case_id = self.uid()
            kind = rng.choice(list(CaseKind))
            yield subj, self.wrap(CaseRecorded(case_id=case_id, kind=kind, filed_on=self.clock.day()),
                                  app_id, org, office, roles=["office"])
            yield subj, self.wrap(CaseDecided(case_id=case_id, result=rng.choice([CaseResult.UPHELD, CaseResult.CORRECTED,
                                                                                  CaseResult.OTHER]),
                                              decided_on=self.clock.day()), app_id, org, office, roles=["office"])

    def proposal(self, org: str) -> Iterator[tuple[str, Envelope]]:
        rng, pid = self.rng, self.uid()
        subj = subjects.event_subject("proposal", pid)
        office = f"{org}.office"
        yield subj, self.wrap(ProposalReceived(kind=rng.choice(["npc_suggestion", "cppcc_proposal"]),
                                               received_on=self.clock.day(), title="关于加强政务公开的建议",
                                               number=str(rng.randrange(1000))), pid, org, office, roles=["office"])
        yield subj, self.wrap(ProposalAnswered(answered_on=self.clock.day()), pid, org, office, roles=["office"])

    def report_year(self, org: str, year: int) -> Iterator[tuple[str, Envelope]]:
        """The office's narrative texts and the table-二 figures of an org's year, through the chain."""
        office, key = f"{org}.office", f"{org}-{year}"
        for section in ("overall", "other_matters", "problems_improvements"):
            yield subjects.event_subject("report", key), self.wrap(
                ReportTextSet(year=year, section=section, text=f"{year}年，本单位认真贯彻落实条例。\n" + BODY),
                key, org, office, roles=["office"])
        subj = subjects.event_subject("record", key)
        wf = subjects.review_workflow_id("record", key, 1)
        rng = self.rng
        figures = Section2Figures(rules_issued=rng.randrange(3), normative_documents_issued=rng.randrange(10),
                                  normative_documents_in_force=rng.randrange(10, 50),
                                  administrative_licensing=rng.randrange(1000), administrative_penalty=rng.randrange(200))
        yield subj, self.wrap(Section2Submitted(year=year, submission=1, workflow_id=wf, figures=figures,
                                                drafted_by=office), key, org, office, roles=["office"])
        for stage, role in (("initial", "officer"), ("recheck", "section_head")):
            user = f"{org}.{role}"
            yield subj, self.wrap(DecisionRecorded(submission=1, stage=stage, outcome="approve", decided_by=user,
                                                   roles=[role], workflow_id=wf), key, org, user, aggregate="record",
                                  roles=[role], via=f"workflow:{wf}")
        yield subj, self.wrap(Section2Approved(year=year, submission=1), key, org, "system", via=f"workflow:{wf}")
        if rng.random() < 0.3:  # 年度关账
            yield subjects.event_subject("report", key), self.wrap(
                ReportYearClosed(year=year, digest=f"{rng.getrandbits(128):032x}", figures={"proactive": {"total": 1}},
                                 closed_by=office), key, org, office, roles=["office"])

    def _new(self) -> Iterator[tuple[str, Envelope]]:
        org = self.rng.choice(self.orgs)
        year = self.clock.now.astimezone(SHANGHAI).year
        if (org, year - 1) not in self.seen_org_year and self.clock.now.astimezone(SHANGHAI).month >= 1 \
                and year > self.clock.start.astimezone(SHANGHAI).year:
            self.seen_org_year.add((org, year - 1))
            return self.report_year(org, year - 1)
        r = self.rng.random()
        if r < 0.85:
            return self.item(org)
        if r < 0.97:
            return self.application(org)
        return self.proposal(org)

    def events(self) -> Iterator[tuple[str, Envelope]]:
        """About `n_events` events, interleaved over `in_flight` aggregates; aggregates still open at the end
        stay open (items in review, applications unanswered), as in a live log."""
        active: list[Iterator] = []
        emitted = 0
        while emitted < self.n_events:
            if len(active) < self.in_flight:
                active.append(self._new())
            i = self.rng.randrange(len(active))
            try:
                out = next(active[i])
            except StopIteration:
                active[i] = active[-1]
                active.pop()
                continue
            emitted += 1
            yield out


def city(n_events: int, *, orgs: int = 100, seed: int = 1) -> Iterator[tuple[str, Envelope]]:
    return City(n_events, orgs=orgs, seed=seed).events()


def imported(n: int, org: str, *, seed: int = 2, year: int | None = None) -> Iterator[tuple[str, Envelope]]:
    """`n` items an org imported from before, published over the last two years (or all in `year`)."""
    rng = random.Random(seed)
    clock = _Clock(n)
    if year is not None:
        clock.start = datetime(year, 1, 1, 8, tzinfo=SHANGHAI).astimezone(UTC)
        clock.end = datetime(year, 12, 31, 18, tzinfo=SHANGHAI).astimezone(UTC)
        clock.step, clock.now = (clock.end - clock.start) / max(n, 1), clock.start
    for i in range(n):
        item_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        at = clock.tick()
        kind = rng.choices(["proactive", "interpretation", "response"], [85, 10, 5])[0]
        ev = ItemImported(kind=kind, category=rng.choice(CATEGORIES) if kind == "proactive" else None,
                          title=f"历史信息第{i}条", body=BODY, author=f"{org}.author", published_at=at,
                          index_no=f"{org}-hist-{i:06d}", source="import")
        yield subjects.event_subject("item", item_id), Envelope.wrap(
            ev, aggregate_id=item_id, org=org, actor=Actor(user=f"{org}.import", roles=["office"]),
            event_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)), occurred_at=at)


async def publish(nats_url: str, events, *, max_pending: int = 4000, inbox_prefix: str = "_INBOX") -> tuple[int, float]:
    """Publish the events pipelined (many acks outstanding) to the real stream, created with its real
    configuration; each carries the headers `EventLog.append` gives it (event id as `Nats-Msg-Id`, type, and
    the subject's chain digests where the event log keeps them), but no expected sequence: nothing races here.
    Appending to a log that already holds events, a subject's chain continues only if this call began it.
    Returns (events published, seconds)."""
    import time

    from gongkai import eventlog

    chain = getattr(eventlog, "chain_digest", None)
    tips: dict[str, str] = {}
    log = await EventLog.connect(nats_url, name="gongkai-bench-publish", inbox_prefix=inbox_prefix)
    try:
        await log.ensure_stream()
        js = log.nc.jetstream(publish_async_max_pending=max_pending)
        t0 = time.perf_counter()
        futures, n = [], 0
        for subject, env in events:
            data = encode(env)
            headers = {api.Header.MSG_ID: env.event_id, "Gongkai-Type": env.type}
            if chain is not None:
                prev = tips.get(subject, eventlog.GENESIS)
                tips[subject] = digest = chain(prev, subject, data)
                headers.update({eventlog.PREV_DIGEST: prev, eventlog.DIGEST: digest})
            futures.append(await js.publish_async(subject, data, headers=headers))
            n += 1
            if len(futures) >= 20000:
                await _settle(futures)
                futures = []
        await _settle(futures)
        return n, time.perf_counter() - t0
    finally:
        await log.close()


async def _settle(futures: list) -> None:
    for ack in await asyncio.gather(*futures):
        if ack.duplicate:
            raise RuntimeError("a synthetic event was stored as a duplicate")
