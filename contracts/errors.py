"""Domain errors shared by every service.

Each error carries a stable code, a Chinese and an English message and the HTTP status it maps to, so
that an HTTP route, a NATS command reply and a Temporal update validator all report the same refusal the
same way.
"""

from __future__ import annotations


class DomainError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, zh: str, en: str, *, code: str | None = None):
        super().__init__(f"{zh} / {en}")
        self.zh = zh
        self.en = en
        if code:
            self.code = code

    @property
    def message(self) -> str:
        return f"{self.zh} / {self.en}"

    def to_json(self) -> dict:
        return {"error": self.code, "message": self.message, "message_zh": self.zh, "message_en": self.en}


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class Invalid(DomainError):
    status = 422
    code = "invalid"


class Unavailable(DomainError):
    status = 503
    code = "unavailable"


ERRORS_BY_NAME: dict[str, type[DomainError]] = {
    c.__name__: c for c in (DomainError, Unauthorized, Forbidden, NotFound, Conflict, Invalid, Unavailable)
}


def from_parts(kind: str, code: str, zh: str, en: str) -> DomainError:
    """Rebuild an error that crossed a process boundary (NATS reply, Temporal failure)."""
    return ERRORS_BY_NAME.get(kind, DomainError)(zh, en, code=code)
