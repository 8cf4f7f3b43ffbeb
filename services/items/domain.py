"""The item aggregate: its rules, and its state folded from its events. No I/O here.

A command method checks the rules and returns the event to append; `Item.from_events` rebuilds the state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, ClassVar

from contracts import chain
from contracts.chain import Decision, Outcome, Stage
from contracts.envelope import Event
from contracts.errors import Conflict, Forbidden, Invalid
from contracts.items import (
    EDITABLE,
    ChangeRequested,
    ItemContent,
    ItemDrafted,
    ItemImported,
    ItemKind,
    ItemMetadata,
    ItemPublished,
    ItemRetracted,
    ItemRevised,
    ItemStatus,
    ItemSubmitted,
    ItemWithdrawn,
    Validity,
    ValidityChanged,
)
from contracts.lifecycle import review_open_after, status_after
from contracts.reviews import DecisionDetails, DecisionRecorded, Reminder, ReviewAgainDue, ReviewOverdue
from contracts.roles import Principal, Role
from contracts.scan import Finding
from contracts.subjects import review_workflow_id
from gongkai.eventlog import Stored
from services.items.reviewing import recorded_decision

WRITERS = frozenset({Role.AUTHOR, Role.OFFICE})
REVISABLE_FIELDS = frozenset({"category", "title", "body", "formed_on", "channels", "interprets", "metadata"})


def check_category(kind: ItemKind, category: str | None, categories: dict[str, str]) -> None:
    if kind is ItemKind.PROACTIVE and not category:
        raise Invalid("主动公开信息必须选择类别", "a proactive item needs a category", code="category_required")
    if category is not None and category not in categories:
        raise Invalid(f"未知的类别 {category}", f"unknown category {category!r}; known: {', '.join(categories)}",
                      code="unknown_category")


def _revised(field_name: str, value: object) -> object:
    """A revised field as stored (JSON) back to its type."""
    if field_name == "formed_on" and isinstance(value, str):
        return date.fromisoformat(value)
    if field_name == "metadata":
        return ItemMetadata.model_validate(value)
    return value


@dataclass
class Item:
    AGGREGATE: ClassVar[str] = "item"
    id: str
    org: str = ""
    kind: ItemKind = ItemKind.PROACTIVE
    category: str | None = None
    title: str = ""
    body: str = ""
    formed_on: date | None = None
    channels: list[str] = field(default_factory=list)
    interprets: str | None = None
    metadata: ItemMetadata = field(default_factory=ItemMetadata)
    author: str = ""
    status: ItemStatus = ItemStatus.DRAFT
    created_at: datetime | None = None
    updated_at: datetime | None = None
    submission: int = 0
    decisions: list[Decision] = field(default_factory=list)  # of the current submission only
    findings: list[Finding] = field(default_factory=list)  # the current submission's pre-publication scan
    review_open: bool = False  # the current submission awaits decisions
    change: ChangeRequested | None = None  # the change to a published item the current submission asks for
    stage_started_at: datetime | None = None  # when the current stage began (its deadline counts from here)
    reminders: list[Stored] = field(default_factory=list)  # overdue and review-again events
    published_at: datetime | None = None
    index_no: str | None = None
    imported: bool = False
    version: int = 0  # stream sequence of the last event: the expected sequence of the next append
    history: list[Stored] = field(default_factory=list)

    # ---- state -------------------------------------------------------------------------------------------
    @classmethod
    def from_events(cls, item_id: str, events: list[Stored]) -> Item:
        item = cls(id=item_id)
        for st in events:
            item.apply(st)
        return item

    @property
    def exists(self) -> bool:
        return self.version > 0

    @property
    def review(self) -> chain.ChainState:
        return chain.replay(self.author, self.decisions, {f.id: f.blocking for f in self.findings})

    def apply(self, st: Stored) -> None:
        env, ev = st.envelope, st.envelope.event()
        self.version = st.seq
        self.history.append(st)
        self.updated_at = env.occurred_at
        self.status = status_after(ev) or self.status
        self.review_open = review_open_after(ev, self.review_open)
        match ev:
            case ItemDrafted() | ItemImported():
                self.org, self.created_at, self.imported = env.org, env.occurred_at, isinstance(ev, ItemImported)
                self.kind, self.category, self.title, self.body = ev.kind, ev.category, ev.title, ev.body
                self.formed_on, self.channels, self.interprets, self.author = (
                    ev.formed_on, list(ev.channels), ev.interprets, ev.author)
                self.metadata = ev.metadata
                if isinstance(ev, ItemImported):
                    self.published_at, self.index_no = ev.published_at, ev.index_no
            case ItemRevised():
                for k, v in ev.changes.items():
                    setattr(self, k, _revised(k, v))
            case ItemSubmitted():
                self.submission, self.decisions, self.findings = ev.submission, [], list(ev.findings)
                self.stage_started_at, self.change = env.occurred_at, None
            case ChangeRequested():
                self.submission, self.decisions, self.findings = ev.submission, [], []
                self.stage_started_at, self.change = env.occurred_at, ev
            case ItemRetracted():
                self.change = None
            case ValidityChanged():
                self.change = None
                self.metadata = self.metadata.model_copy(update={
                    "validity": ev.validity,
                    **({"repealed_on": ev.effective_on} if ev.validity is Validity.REPEALED else {})})
            case DecisionRecorded():
                self.decisions.append(Decision.of(ev.stage, ev.outcome, ev.decided_by, ev.roles,
                                                  on_behalf_of=ev.on_behalf_of, acknowledged=ev.acknowledged))
                self.stage_started_at = env.occurred_at
            case ItemPublished():
                self.published_at, self.index_no = ev.published_at, ev.index_no
                self.channels = list(ev.channels) or self.channels
            case ReviewOverdue() | ReviewAgainDue():
                self.reminders.append(st)

    # ---- rules -------------------------------------------------------------------------------------------
    def _same_org(self, by: Principal) -> None:
        if by.org != self.org:
            raise Forbidden("不能操作其他单位的信息", "this item belongs to another org", code="other_org")

    def _own(self, by: Principal) -> None:
        self._same_org(by)
        if by.user != self.author:
            raise Forbidden("只有作者可以执行此操作", "only the item's author may do this", code="not_author")

    def create(self, by: Principal, content: ItemContent, categories: dict[str, str]) -> Event:
        if self.exists:
            raise Conflict("该信息已存在", "item already exists", code="exists")
        if not (WRITERS & set(by.roles)):
            raise Forbidden("需要撰稿人角色才能起草信息", "drafting an item needs role author", code="wrong_role")
        if content.kind is ItemKind.ANNUAL_REPORT and Role.OFFICE not in by.roles:
            raise Forbidden("年度报告由公开办公室起草", "annual reports are drafted by role office", code="wrong_role")
        check_category(content.kind, content.category, categories)
        return ItemDrafted(**content.model_dump(), author=by.user)

    def revise(self, by: Principal, changes: dict[str, Any], categories: dict[str, str]) -> Event:
        self._own(by)
        if self.status not in EDITABLE:
            raise Conflict(f"状态为 {self.status} 的信息不能修改", f"an item in status {self.status} cannot be edited",
                           code="not_editable")
        unknown = set(changes) - REVISABLE_FIELDS
        if unknown:
            raise Invalid(f"不能修改字段 {', '.join(sorted(unknown))}", f"fields not revisable: {sorted(unknown)}",
                          code="not_revisable")
        if not changes:
            raise Invalid("没有要修改的内容", "no changes given", code="no_changes")
        if "category" in changes:
            check_category(self.kind, changes["category"], categories)
        return ItemRevised(changes=changes)

    def submit(self, by: Principal, findings: list[Finding]) -> ItemSubmitted:
        self._own(by)
        if self.status not in EDITABLE:
            raise Conflict(f"状态为 {self.status} 的信息不能提交审查", f"an item in status {self.status} cannot be submitted",
                           code="not_submittable")
        n = self.submission + 1
        return ItemSubmitted(submission=n, workflow_id=review_workflow_id("item", self.id, n), findings=findings)

    def withdraw(self, by: Principal, reason: str | None) -> Event:
        self._same_org(by)
        if by.user != self.author and Role.OFFICE not in by.roles:
            raise Forbidden("只有作者或公开办公室可以撤回", "only the author or the office may withdraw",
                            code="not_author")
        if self.status not in EDITABLE | {ItemStatus.IN_REVIEW}:
            raise Conflict(f"状态为 {self.status} 的信息不能撤回", f"an item in status {self.status} cannot be withdrawn",
                           code="not_withdrawable")
        return ItemWithdrawn(reason=reason)

    def record_decision(self, *, submission: int, stage: Stage, outcome: Outcome, user: str, roles: list[str],
                        comment: str | None, workflow_id: str, details: DecisionDetails | None = None) -> Event:
        """The second guard: a decision is recorded only if it is the chain's next valid step."""
        return recorded_decision(self, submission=submission, stage=stage, outcome=outcome, user=user, roles=roles,
                                 comment=comment, workflow_id=workflow_id, details=details,
                                 purpose=self.change.change if self.change else "publish")

    def _approved(self) -> None:
        if not chain.is_complete_approval(self.author, self.decisions, {f.id: f.blocking for f in self.findings}):
            raise Forbidden("未经完整审查链批准，不得发布", "the review chain has not approved this submission",
                            code="chain_incomplete")

    def request_change(self, by: Principal, change: str, reason: str, validity: Validity | None = None,
                       effective_on: date | None = None) -> ChangeRequested:
        """撤回 or a new 有效性 of a published item: submitted for review, effective only once approved."""
        self._same_org(by)
        if by.user != self.author and Role.OFFICE not in by.roles:
            raise Forbidden("只有作者或公开办公室可以申请撤回或变更有效性",
                            "only the author or the office may ask to retract or change validity", code="not_author")
        if self.status is not ItemStatus.PUBLISHED or self.review_open:
            raise Conflict(f"只有已发布且不在审查中的信息可以{'撤回' if change == 'retract' else '变更有效性'}",
                           f"only a published item not under review can be changed (status {self.status})",
                           code="not_changeable")
        if change == "validity" and validity in (None, self.metadata.validity):
            raise Conflict("有效性没有变化", "the validity would not change", code="no_changes")
        n = self.submission + 1
        return ChangeRequested(submission=n, workflow_id=review_workflow_id("item", self.id, n), change=change,
                               reason=reason, validity=validity, effective_on=effective_on)

    def apply_change(self, *, submission: int, at: datetime) -> Event:
        """The approved change takes effect (the second guard, as for publication)."""
        if not self.review_open or self.change is None or submission != self.submission:
            raise Conflict("没有待生效的变更", "no approved change awaits this submission", code="not_changeable")
        self._approved()
        if self.change.change == "retract":
            return ItemRetracted(submission=submission, retracted_at=at, reason=self.change.reason)
        return ValidityChanged(submission=submission, validity=self.change.validity,
                               effective_on=self.change.effective_on)

    def publish(self, *, submission: int, published_at: datetime, index_no: str) -> Event:
        """先审查后公开: refuse unless this submission's recorded decisions form a complete approved chain."""
        if self.status is not ItemStatus.IN_REVIEW or not self.review_open or submission != self.submission:
            raise Conflict("该信息不在可发布的状态", f"item is {self.status}, not awaiting publication",
                           code="not_publishable")
        if not chain.is_complete_approval(self.author, self.decisions, {f.id: f.blocking for f in self.findings}):
            raise Forbidden("未经完整审查链批准，不得发布", "the review chain has not approved this submission",
                            code="chain_incomplete")
        return ItemPublished(submission=submission, published_at=published_at, index_no=index_no,
                             channels=self.channels)

    def remind(self, r: Reminder) -> Event:
        """Record a passed deadline or a come review-again date, once per submission and kind."""
        if r.submission != self.submission:
            raise Conflict("提醒不属于当前提交", "the reminder is for another submission", code="stale_reminder")
        if r.kind == "review_again":
            return ReviewAgainDue(submission=r.submission, review_again_on=r.review_again_on,
                                  remind_roles=r.remind_roles)
        return ReviewOverdue(submission=r.submission, deadline=r.kind, stage=r.stage, due_at=r.due_at,
                             remind_roles=r.remind_roles)

    def import_published(self, by: Principal, record: ItemImported) -> Event:
        if self.exists:
            raise Conflict("该信息已导入", "item already imported", code="exists")
        if Role.OFFICE not in by.roles:
            raise Forbidden("只有公开办公室可以导入历史记录", "only role office may import records", code="wrong_role")
        return record
