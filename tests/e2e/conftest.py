from __future__ import annotations

import time
import uuid

import httpx
import pytest


class People:
    """The users of one org on the running stack, each with a token from `gongkai token`."""

    def __init__(self, stack, org: str):
        self.stack, self.org = stack, org
        self.tokens: dict[str, str] = {}

    def token(self, user: str, *roles: str) -> dict:
        key = f"{user}:{','.join(roles)}"
        if key not in self.tokens:
            self.tokens[key] = self.stack.token(user, self.org, *roles)
        return {"Authorization": f"Bearer {self.tokens[key]}"}

    # the usual cast
    @property
    def author(self) -> dict:
        return self.token("zhang.wei", "author")

    @property
    def officer(self) -> dict:
        return self.token("li.na", "officer")

    @property
    def head(self) -> dict:
        return self.token("wang.qiang", "section_head")

    @property
    def viewer(self) -> dict:
        return self.token("leader.view", "viewer")


class Api:
    def __init__(self, stack):
        self.stack = stack
        self.http = httpx.Client(timeout=30)

    def items(self, path: str) -> str:
        return f"{self.stack.url('items')}{path}"

    def reviews(self, path: str) -> str:
        return f"{self.stack.url('reviews')}{path}"

    def reports(self, path: str) -> str:
        return f"{self.stack.url('reports')}{path}"

    def create(self, who: dict, category: str = "meetings", **extra) -> dict:
        r = self.http.post(self.items("/items"), headers=who,
                           json={"kind": "proactive", "category": category, "title": "测试信息", "body": "正文",
                                 **extra})
        assert r.status_code == 201, r.text
        return r.json()

    def submit(self, who: dict, item_id: str) -> httpx.Response:
        return self.http.post(self.items(f"/items/{item_id}/submit"), headers=who)

    def decide(self, who: dict, item_id: str, stage: str, outcome: str = "approve", **extra) -> httpx.Response:
        if outcome == "reject":
            extra.setdefault("reason_code", "denied_process_info")
        return self.http.post(self.reviews(f"/items/{item_id}/decisions"), headers=who,
                              json={"stage": stage, "outcome": outcome, "comment": "同意", **extra})

    def item(self, who: dict, item_id: str) -> dict:
        r = self.http.get(self.items(f"/items/{item_id}"), headers=who)
        assert r.status_code == 200, r.text
        return r.json()

    def totals(self, who: dict, **params) -> dict:
        r = self.http.get(self.reports("/totals"), headers=who, params=params)
        assert r.status_code == 200, r.text
        return r.json()

    def tasks_after(self, who: dict, position: int, timeout: float = 10) -> list[dict]:
        """The review inbox once it has applied the log up to `position` (it folds the log a moment after a
        write, as the totals do)."""
        deadline = time.monotonic() + timeout
        while True:
            r = self.http.get(self.reviews("/tasks"), headers=who)
            assert r.status_code == 200, r.text
            if r.json()["position"] >= position or time.monotonic() > deadline:
                return r.json()["tasks"]
            time.sleep(0.02)

    def totals_after(self, who: dict, position: int, timeout: float = 10, **params) -> dict:
        """The totals once the projection has applied the log up to `position`."""
        deadline = time.monotonic() + timeout
        while True:
            t = self.totals(who, **params)
            if t["position"] >= position or time.monotonic() > deadline:
                return t
            time.sleep(0.02)


@pytest.fixture
def people(stack) -> People:
    return People(stack, f"org-{uuid.uuid4().hex[:8]}")


@pytest.fixture(scope="session")
def api(stack) -> Api:
    return Api(stack)
