"""Table 二 records (Art. 20 figures that are not items: 规章 and 规范性文件, 许可/处罚/强制 decisions, 行政事业性收费),
one aggregate per org and year, submitted and reviewed through the same chain as everything else."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from contracts import chain
from contracts.application_events import Section2Approved, Section2Figures, Section2Submitted
from contracts.chain import Decision, Stage
from contracts.chain import Outcome as DecisionOutcome
from contracts.envelope import Event
from contracts.errors import Conflict, Forbidden
from contracts.reviews import DecisionDetails, DecisionRecorded, Reminder, ReviewOverdue
from contracts.roles import Principal, Role
from contracts.subjects import review_workflow_id
from gongkai.eventlog import Stored
from services.items.reviewing import recorded_decision


@dataclass
class Section2Record:
    AGGREGATE: ClassVar[str] = "record"
    id: str  # <org>-<year>
    org: str = ""
    year: int = 0
    submission: int = 0
    draft: Section2Submitted | None = None
    approved: Section2Figures | None = None
    decisions: list[Decision] = field(default_factory=list)
    review_open: bool = False
    stage_started_at: Any = None
    version: int = 0
    history: list[Stored] = field(default_factory=list)

    @classmethod
    def from_events(cls, rid: str, events: list[Stored]) -> Section2Record:
        r = cls(id=rid)
        for st in events:
            r.apply(st)
        return r

    @property
    def exists(self) -> bool:
        return self.version > 0

    @property
    def status(self) -> str:
        return "in_review" if self.review_open else ("approved" if self.approved else "draft")

    @property
    def review(self) -> chain.ChainState:
        return chain.replay(self.draft.drafted_by if self.draft else "", self.decisions)

    def apply(self, st: Stored) -> None:
        env, ev = st.envelope, st.envelope.event()
        self.version = st.seq
        self.history.append(st)
        match ev:
            case Section2Submitted():
                self.org, self.year, self.submission, self.draft = env.org, ev.year, ev.submission, ev
                self.decisions, self.review_open, self.stage_started_at = [], True, env.occurred_at
            case DecisionRecorded():
                self.decisions.append(Decision.of(ev.stage, ev.outcome, ev.decided_by, ev.roles,
                                                  on_behalf_of=ev.on_behalf_of, acknowledged=ev.acknowledged))
                self.stage_started_at = env.occurred_at
                if ev.outcome in (DecisionOutcome.RETURN, DecisionOutcome.REJECT):
                    self.review_open = False
            case Section2Approved():
                self.review_open, self.approved = False, self.draft.figures if self.draft else None

    def submit(self, by: Principal, org: str, year: int, figures: Section2Figures) -> Event:
        if Role.OFFICE not in by.roles or by.org != org:
            raise Forbidden("第二部分数据由本单位公开办公室填报", "only the org's office records table 二", code="wrong_role")
        if self.review_open:
            raise Conflict("上一次填报正在审查中", "the previous figures are still under review", code="in_review")
        n = self.submission + 1
        return Section2Submitted(year=year, submission=n, workflow_id=review_workflow_id("record", self.id, n),
                                 figures=figures, drafted_by=by.user)

    def record_decision(self, *, submission: int, stage: Stage, outcome: DecisionOutcome, user: str,
                        roles: list[str], comment: str | None, workflow_id: str,
                        details: DecisionDetails | None = None) -> Event:
        """The second guard, as for items: only the chain's next valid step is recorded."""
        return recorded_decision(self, submission=submission, stage=stage, outcome=outcome, user=user, roles=roles,
                                 comment=comment, workflow_id=workflow_id, details=details)

    def approve(self, submission: int) -> Event:
        if not self.review_open or submission != self.submission:
            raise Conflict("没有待生效的填报", "no figures await approval", code="not_approvable")
        if not chain.is_complete_approval(self.draft.drafted_by, self.decisions):
            raise Forbidden("未经完整审查链批准", "the review chain has not approved these figures", code="chain_incomplete")
        return Section2Approved(year=self.year, submission=submission)

    def remind(self, r: Reminder) -> Event:
        return ReviewOverdue(submission=r.submission, deadline="stage", stage=r.stage, due_at=r.due_at,
                             remind_roles=r.remind_roles)
