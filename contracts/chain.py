"""The confidentiality review chain (保密审查) of the seed's §九, written once.

"谁公布谁审查、谁审查谁负责", "先审查后公开": 信息员 初审, 科室负责人 复核 and decides; when unsure,
分管领导 批示; when still unsure, 同级保密部门. The workflow enforces these rules, the items aggregate checks
them again before it publishes, and the reviews service builds its inbox from them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from contracts.errors import Conflict, Forbidden, Invalid
from contracts.roles import Role


class Stage(StrEnum):
    INITIAL = "initial"  # 初审
    RECHECK = "recheck"  # 复核
    LEADER = "leader"  # 分管领导批示
    SECRECY = "secrecy"  # 同级保密部门


class Outcome(StrEnum):
    APPROVE = "approve"
    RETURN = "return"
    REJECT = "reject"
    ESCALATE = "escalate"


STAGE_LABEL_ZH = {Stage.INITIAL: "初审", Stage.RECHECK: "复核", Stage.LEADER: "分管领导批示", Stage.SECRECY: "保密部门审查"}

#: who decides each stage
DECIDER: dict[Stage, Role] = {
    Stage.INITIAL: Role.OFFICER,
    Stage.RECHECK: Role.SECTION_HEAD,
    Stage.LEADER: Role.LEADER,
    Stage.SECRECY: Role.SECRECY,
}

#: an outside body whose decision the office may enter on its behalf (recorded as such): 保密部门's answer
#: arrives as a letter, and the office records it
ON_BEHALF: dict[Stage, Role] = {Stage.SECRECY: Role.OFFICE}

#: what each stage may decide
ALLOWED: dict[Stage, frozenset[Outcome]] = {
    Stage.INITIAL: frozenset({Outcome.APPROVE, Outcome.RETURN, Outcome.REJECT}),
    Stage.RECHECK: frozenset(Outcome),
    Stage.LEADER: frozenset(Outcome),
    Stage.SECRECY: frozenset({Outcome.APPROVE, Outcome.RETURN, Outcome.REJECT}),
}

#: where an approval or an escalation leads; an approval with no entry here is final (publish)
APPROVE_NEXT: dict[Stage, Stage] = {Stage.INITIAL: Stage.RECHECK}
ESCALATE_NEXT: dict[Stage, Stage] = {Stage.RECHECK: Stage.LEADER, Stage.LEADER: Stage.SECRECY}


class Verdict(StrEnum):
    """How a submission's review ended."""

    APPROVED = "approved"
    RETURNED = "returned"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Decision:
    stage: Stage
    outcome: Outcome
    user: str
    roles: tuple[Role, ...] = ()
    on_behalf_of: str | None = None  # the outside body whose decision the office enters
    acknowledged: frozenset[str] = frozenset()  # ids of the pre-publication scan's findings

    @classmethod
    def of(cls, stage: str, outcome: str, user: str, roles: list[str], *, on_behalf_of: str | None = None,
           acknowledged: list[str] | None = None) -> Decision:
        """A decision as recorded or requested; role names this deployment does not know grant nothing."""
        return cls(Stage(stage), Outcome(outcome), user, tuple(Role(r) for r in roles if r in Role._value2member_map_),
                   on_behalf_of or None, frozenset(acknowledged or ()))

    def may_decide(self, stage: Stage) -> bool:
        return DECIDER[stage] in self.roles or (
            stage in ON_BEHALF and bool(self.on_behalf_of) and ON_BEHALF[stage] in self.roles)


@dataclass
class ChainState:
    """Where one submission stands: the current stage, who decided so far, and the verdict once over."""

    author: str
    stage: Stage | None = Stage.INITIAL
    verdict: Verdict | None = None
    deciders: list[str] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    #: the submission's scan findings: id → whether it blocks publication (a 密级 mark)
    findings: dict[str, bool] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return self.verdict is not None


def check(state: ChainState, decision: Decision) -> None:
    """Refuse a decision the chain does not allow now; raise Forbidden (who) or Conflict (when)."""
    if state.finished or state.stage is None:
        raise Conflict("该次提交的审查已经结束", "the review of this submission is already finished",
                       code="review_finished")
    if decision.stage != state.stage:
        raise Conflict(f"当前环节是{STAGE_LABEL_ZH[state.stage]}（{state.stage}），不是 {decision.stage}",
                       f"the current stage is {state.stage}, not {decision.stage}", code="not_current_stage")
    if decision.outcome not in ALLOWED[state.stage]:
        raise Conflict(f"{STAGE_LABEL_ZH[state.stage]}环节不能作出 {decision.outcome} 决定",
                       f"stage {state.stage} cannot decide {decision.outcome}", code="outcome_not_allowed")
    if not decision.may_decide(state.stage):
        raise Forbidden(f"{STAGE_LABEL_ZH[state.stage]}须由角色 {DECIDER[state.stage]} 作出",
                        f"stage {state.stage} must be decided by role {DECIDER[state.stage]}", code="wrong_role")
    if decision.user == state.author:
        raise Forbidden("作者不能审查自己的信息（谁公布谁审查，但不能自审）",
                        "the author cannot decide on their own item", code="author_cannot_decide")
    if decision.user in state.deciders:
        raise Forbidden("同一人在一次提交中只能审查一个环节",
                        "one person may decide at most one stage of a submission", code="already_decided")
    if decision.outcome is Outcome.APPROVE:
        if any(state.findings.values()):
            raise Forbidden("信息含有密级标志，不得批准公开", "the item carries a secrecy mark and can never be approved",
                            code="secrecy_mark")
        missing = sorted(set(state.findings) - decision.acknowledged)
        if missing:
            raise Invalid(f"批准前须逐项确认发布前检查发现的问题：{', '.join(missing)}",
                          f"acknowledge every finding of the pre-publication scan first: {', '.join(missing)}",
                          code="findings_not_acknowledged")


def advance(state: ChainState, decision: Decision) -> ChainState:
    """The state after an allowed decision (call `check` first)."""
    nxt = ChainState(author=state.author, stage=state.stage, verdict=None, findings=state.findings,
                     deciders=[*state.deciders, decision.user], decisions=[*state.decisions, decision])
    match decision.outcome:
        case Outcome.APPROVE:
            nxt.stage = APPROVE_NEXT.get(decision.stage)
            if nxt.stage is None:
                nxt.verdict = Verdict.APPROVED
        case Outcome.ESCALATE:
            nxt.stage = ESCALATE_NEXT[decision.stage]
        case Outcome.RETURN:
            nxt.stage, nxt.verdict = None, Verdict.RETURNED
        case Outcome.REJECT:
            nxt.stage, nxt.verdict = None, Verdict.REJECTED
    return nxt


def replay(author: str, decisions: list[Decision], findings: dict[str, bool] | None = None) -> ChainState:
    """Fold recorded decisions; raises if any of them broke the chain."""
    state = ChainState(author=author, findings=dict(findings or {}))
    for d in decisions:
        check(state, d)
        state = advance(state, d)
    return state


def is_complete_approval(author: str, decisions: list[Decision], findings: dict[str, bool] | None = None) -> bool:
    """先审查后公开: true only when the recorded decisions form a whole chain that ends in approval."""
    try:
        return replay(author, decisions, findings).verdict is Verdict.APPROVED
    except (Conflict, Forbidden, Invalid):
        return False
