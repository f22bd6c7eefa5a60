"""Domain errors. Use cases raise them; the app's one exception-handler table maps them to HTTP
(marketplace.http) and the command line prints them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Self

import msgspec

from marketplace.types import Caller


class FieldProblem(msgspec.Struct, omit_defaults=True):
    field: str
    problem: str
    allowed: Sequence[str | int] | None = None
    """What the field may hold: codes or words as text, ids as numbers (as the field itself takes them)."""
    suggestion: str | None = None


class DomainError(Exception):
    code = "error"

    def __init__(self, message: str, *, problems: Sequence[FieldProblem] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.problems = list(problems)

    @classmethod
    def field(cls, field: str, problem: str, *, allowed: Sequence[str | int] | None = None) -> Self:
        """One problem with one field: the message names it."""
        return cls(f"{field}: {problem}", problems=[FieldProblem(field=field, problem=problem, allowed=allowed)])

    @classmethod
    def from_problems(cls, problems: Sequence[FieldProblem]) -> Self:
        return cls("; ".join(f"{p.field}: {p.problem}" for p in problems), problems=problems)


class InvalidInput(DomainError):
    """The request is malformed, or says something the marketplace cannot accept."""

    code = "invalid_input"


class Unprocessable(DomainError):
    """Well-formed and schema-valid, but breaks a rule the schema cannot state (an unknown code, experience
    longer than the organisation has existed, an identifier scheme that does not fit the legal form)."""

    code = "unprocessable"


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    code = "conflict"


class NotAcceptable(DomainError):
    code = "not_acceptable"


class UnsupportedMediaType(DomainError):
    code = "unsupported_media_type"


class UriTooLong(DomainError):
    """An address whose query string is longer than the API reads (414)."""

    code = "uri_too_long"


class DatabaseUnavailable(DomainError):
    code = "database_unavailable"


class Unauthorized(DomainError):
    """No usable API key: missing when one is needed, malformed, unknown or revoked (`reason` says which of the last
    three, for whoever tells a person rather than a program: the console's sign-in)."""

    code = "unauthorized"

    def __init__(
        self,
        message: str,
        *,
        reason: Literal["malformed", "unknown", "revoked"] | None = None,
        problems: Sequence[FieldProblem] = (),
        caller: Caller | None = None,
    ) -> None:
        super().__init__(message, problems=problems)
        self.reason = reason
        self.caller = caller
        """The key refused, when it is known (a revoked one): the audit log names it, so `/audit?key_id=` finds
        the use of a revoked key, often a leaked one."""


class Forbidden(DomainError):
    """A valid key whose role (or provider) may not do this. Names who tried, for the audit log."""

    code = "forbidden"

    def __init__(
        self,
        message: str,
        *,
        caller: Caller,
        provider_id: int | None = None,
        allowed_roles: Sequence[str] = (),
        problems: Sequence[FieldProblem] = (),
    ) -> None:
        super().__init__(message, problems=problems)
        self.caller = caller
        self.provider_id = provider_id
        self.allowed_roles = list(allowed_roles)
        """The roles that may (when the caller's role is what is wrong), for a page to say whom it is for."""


class PreconditionRequired(DomainError):
    code = "precondition_required"


class PreconditionFailed(DomainError):
    """The If-Match version is not the current one."""

    code = "precondition_failed"

    def __init__(self, message: str, *, current_version: int, problems: Sequence[FieldProblem] = ()) -> None:
        super().__init__(message, problems=problems)
        self.current_version = current_version


class TooManyRequests(DomainError):
    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
