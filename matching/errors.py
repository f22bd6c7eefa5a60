"""Domain errors raised by the matching core.

All of them derive from :class:`MatchingError` (a plain ``Exception``, deliberately
*not* a ``ValueError`` so msgspec never re-wraps them during decoding) and carry
structured attributes so the API layer can turn them into 4xx responses.
"""

from __future__ import annotations


class MatchingError(Exception):
    """Base class for every error the matching core raises on bad input."""


class _InvalidField(MatchingError):
    """An input named ``field`` is wrong (``problem`` says how); the message starts with ``invalid``."""

    invalid = "invalid field"

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{self.invalid} {field!r}: {problem}")


class InvalidWeights(_InvalidField):
    """A criterion weight is negative, NaN/infinite, unknown, or all weights are zero."""

    invalid = "invalid weight"


class InvalidNeed(_InvalidField):
    """A need (or an exercise of needs) is malformed."""

    invalid = "invalid need field"


class InvalidCandidate(MatchingError):
    """A candidate provider's data is malformed (unknown code, negative amount, duplicate id)."""

    def __init__(self, provider_id: int, field: str, problem: str) -> None:
        self.provider_id = provider_id
        self.field = field
        self.problem = problem
        super().__init__(f"invalid candidate {provider_id}: {field}: {problem}")


class InvalidAreaTree(MatchingError):
    """The area parent map is malformed (cycle, empty code)."""

    def __init__(self, code: str, problem: str) -> None:
        self.code = code
        self.problem = problem
        super().__init__(f"invalid area tree at {code!r}: {problem}")
