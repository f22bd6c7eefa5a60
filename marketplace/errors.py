"""Domain errors. Raised by domain code; the app's one exception_handlers table maps them to HTTP."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec


class FieldProblem(msgspec.Struct, omit_defaults=True):
    field: str
    problem: str
    allowed: list[str] | None = None
    suggestion: str | None = None


class DomainError(Exception):
    code = "error"

    def __init__(self, message: str, *, problems: Sequence[FieldProblem] = (), extra: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.problems = list(problems)
        self.extra = extra or {}


class InvalidInput(DomainError):
    """The request is well-formed but says something the marketplace cannot accept."""

    code = "invalid_input"

    @classmethod
    def field(cls, field: str, problem: str, **kw: Any) -> InvalidInput:
        return cls(f"{field}: {problem}", problems=[FieldProblem(field=field, problem=problem, **kw)])


class Unprocessable(DomainError):
    """Well-formed and schema-valid, but breaks a rule the schema cannot state (an unknown code, experience
    longer than the organisation has existed, an identifier scheme that does not fit the legal form)."""

    code = "unprocessable"

    @classmethod
    def from_problems(cls, problems: Sequence[FieldProblem]) -> Unprocessable:
        return cls("; ".join(f"{p.field}: {p.problem}" for p in problems), problems=problems)


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    code = "conflict"


class DatabaseUnavailable(DomainError):
    code = "database_unavailable"


class Unauthorized(DomainError):
    """No usable API key: missing when one is needed, malformed, unknown or revoked."""

    code = "unauthorized"


class Forbidden(DomainError):
    """A valid key whose role (or provider) may not do this."""

    code = "forbidden"


class PreconditionRequired(DomainError):
    code = "precondition_required"


class PreconditionFailed(DomainError):
    """The If-Match version is not the current one; extra carries the current version."""

    code = "precondition_failed"


class TooManyRequests(DomainError):
    code = "too_many_requests"
