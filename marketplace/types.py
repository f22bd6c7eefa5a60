"""Types every room shares: the base Struct, annotated field types, a page of results, who is calling,
and the two ways a partial change applies (`merge`, `project`)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Annotated, Any, Generic, Literal, TypeVar

import msgspec
from msgspec import UNSET, Meta, UnsetType

if TYPE_CHECKING:
    from matching import AreaTree

__all__ = [
    "ANONYMOUS",
    "PLAIN",
    "SYSTEM",
    "TEXT",
    "UNSET",
    "Actor",
    "AreaCode",
    "Caller",
    "CohortCode",
    "Count",
    "Email",
    "LongText",
    "Money",
    "NoBody",
    "Page",
    "PathwayCode",
    "Phone",
    "Role",
    "ShortText",
    "Slug",
    "Strict",
    "StrictFrozen",
    "Title",
    "UnsetType",
    "Url",
    "Year",
    "merge",
    "nested_areas",
    "plain",
    "project",
    "trimmed",
]


class Strict(msgspec.Struct, forbid_unknown_fields=True):
    """Every request body: a field the API does not know is refused, never ignored."""


class NoBody(Strict):
    """The body of an action that takes no input (withdraw, publish, ...): none at all, or `{}`. A field sent in it
    is refused naming it, never ignored."""


class StrictFrozen(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """A record read from files or the database that nothing changes after (a taxonomy code)."""


# --- field types ---------------------------------------------------------------------------------
# Every pattern a field type uses says, in plain English and with an example, what a value that does not fit it should
# look like (`plain`): an error gives that sentence, never the regex (marketplace.messages). tests/test_messages.py
# finds every pattern in the code base and fails on one that is not explained here.
PLAIN: dict[str, tuple[str, str]] = {}
"""pattern -> (what an error says of a value that does not fit it, an example that fits, named in the sentence)."""


def plain(pattern: str, wanted: str, example: str) -> str:
    """`pattern`, explained: a value that does not fit it is told `wanted`, a sentence naming `example` (a value that
    fits). Use it wherever a field type has `Meta(pattern=...)`."""
    assert example in wanted, f"the sentence for {pattern!r} names its example {example!r}"
    PLAIN[pattern] = (wanted, example)
    return pattern


# PostgreSQL text cannot hold NUL: free text refuses it (and other C0 controls but tab and newlines).
# Explicit character classes, not \s: Python's and JSON Schema's \s differ on control characters.
TEXT = plain(  # text-direction overrides would reorder what a report shows after them (as in names)
    r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\u202a-\u202e\u2066-\u2069]*$",
    "must be plain text without control or text-direction characters (tabs and new lines are fine), "
    "e.g. Weekly jobs club",
    "Weekly jobs club",
)
# Unicode's default-ignorable code points (DerivedCoreProperties.txt, Default_Ignorable_Code_Point), which show as
# nothing: soft hyphens, zero-width spaces and joiners, direction marks, variation selectors, Hangul fillers, tags...
# In the patterns, those of the Basic Multilingual Plane (a pattern of the OpenAPI document must also read as a
# JavaScript one, whose classes without the u flag cannot hold the others); `nfc` takes every one of them off.
_IGNORABLE = (
    r"\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164"
    r"\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8"
)
_IGNORABLE_ASTRAL = r"\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff"
# A name: no control characters (C0 or C1), no bidirectional overrides or isolates (which can make a name read
# as another), and at least one character that is neither a space nor invisible (default-ignorable).
_NAME_CHAR = r"[^\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"
SEEN_CHAR = rf"[^\s\x00-\x1f\x7f-\x9f{_IGNORABLE}]"
NAME = plain(
    rf"^{_NAME_CHAR}*{SEEN_CHAR}{_NAME_CHAR}*$",
    "must be a name with at least one visible character and no control or text-direction characters, "
    "e.g. Ledbury Lanterns CIC",
    "Ledbury Lanterns CIC",
)
_NOT_BLANK = NAME
PROSE = plain(
    rf"^[^\x00-\x08\x0b\x0c\x0e-\x1f]*{SEEN_CHAR}[^\x00-\x08\x0b\x0c\x0e-\x1f]*$",
    "must be plain text with at least one visible character and no control characters (tabs and new lines are "
    "fine), e.g. Weekly jobs club",
    "Weekly jobs club",
)
"""Free text that must say something: TEXT, not blank."""
_SPACE_OR_UNSEEN = rf"\s\x00-\x20\x7f-\x9f{_IGNORABLE}"
"""A space of any kind (a no-break space, a line separator), a control or an invisible character: what neither an
e-mail address nor a web address may hold."""
_NOT_SPACE = rf"[^@{_SPACE_OR_UNSEEN}]"

Money = Annotated[int, Meta(ge=0, le=10_000_000_000, description="Pounds sterling, whole pounds")]
Count = Annotated[int, Meta(ge=0, le=10_000_000)]
ShortText = Annotated[str, Meta(min_length=1, max_length=200, pattern=TEXT)]
Name = Annotated[str, Meta(min_length=1, max_length=200, pattern=NAME)]
"""Something people read as a name: see NAME. Stored in Unicode NFC (`types.nfc`)."""
LongText = Annotated[str, Meta(max_length=4000, pattern=TEXT)]
Title = Annotated[str, Meta(min_length=1, max_length=200, pattern=_NOT_BLANK)]
EMAIL = plain(
    rf"^{_NOT_SPACE}+@{_NOT_SPACE}+\.{_NOT_SPACE}+$",
    "must be an e-mail address (no spaces), e.g. info@example.org.uk",
    "info@example.org.uk",
)
Email = Annotated[str, Meta(pattern=EMAIL, max_length=254, examples=["info@example.org.uk"])]
PHONE = plain(
    r"^\+?[0-9 ()-]{6,20}$",
    "must be a phone number: 6 to 20 digits, spaces, brackets or dashes, perhaps after a +, e.g. 01432 760123",
    "01432 760123",
)
Phone = Annotated[str, Meta(pattern=PHONE, examples=["01432 760123"])]
URL = plain(
    rf"^https?://[^{_SPACE_OR_UNSEEN}]+$",
    "must be a web address starting https:// or http://, without spaces, e.g. https://example.org.uk",
    "https://example.org.uk",
)
Url = Annotated[str, Meta(pattern=URL, max_length=300, examples=["https://example.org.uk"])]
Year = Annotated[int, Meta(ge=1600, le=2100)]

# Taxonomy codes (which codes exist is data: see marketplace.taxonomy). A code field (by its name, see
# marketplace.messages.CODE_FIELDS) is told its own taxonomy's form and a did-you-mean suggestion instead.
AREA_CODE = plain(r"^[EWSN][0-9]{8}$", "areas are ONS GSS codes, e.g. E06000019 for Herefordshire", "E06000019")
UPPER_CODE = plain(
    r"^[A-Z][A-Z_]{1,31}$", "codes are upper case letters and underscores, e.g. ACCOM or YOUNG_ADULTS", "ACCOM"
)
SLUG = plain(
    r"^[a-z][a-z0-9_]{1,47}$",
    "must be 2 to 48 characters: lower case letters, digits and underscores, starting with a letter, "
    "e.g. outsource_vcse",
    "outsource_vcse",
)
AreaCode = Annotated[str, Meta(pattern=AREA_CODE, description="ONS GSS code, e.g. E06000019", examples=["E06000019"])]
PathwayCode = Annotated[str, Meta(pattern=UPPER_CODE, description="Pathway code, e.g. ACCOM", examples=["ACCOM"])]
CohortCode = Annotated[
    str, Meta(pattern=UPPER_CODE, description="Cohort code, e.g. YOUNG_ADULTS", examples=["YOUNG_ADULTS"])
]
Slug = Annotated[str, Meta(pattern=SLUG)]


def nested_areas(areas: Sequence[str], names: Mapping[str, str], tree: AreaTree, whose: str) -> list[tuple[int, str]]:
    """(position, problem) of each of `areas` within another of them (a district and its county), the one covering it
    named: the wider one covers it already. `whose`: what the areas are of (`the need's`, `the service's`). Codes the
    tree does not know are left out (told apart, as unknown codes)."""
    known = [(i, code) for i, code in enumerate(areas) if code in tree]

    def named(code: str) -> str:
        return f"{names[code]} ({code})" if names.get(code) else code

    found = []
    for i, code in known:
        wider = next((w for _, w in known if w != code and tree.is_within(code, w)), None)
        if wider is not None:
            found.append(
                (
                    i,
                    f"{named(code)} is within {named(wider)}, also one of {whose} areas: list one or the other, not "
                    f"both ({names.get(wider) or wider} covers {names.get(code) or code} already)",
                )
            )
    return found


# --- pages ----------------------------------------------------------------------------------------
T = TypeVar("T")


class Page(msgspec.Struct, Generic[T]):
    """One page of a longer list. Rooms name theirs (`class AuditPage(Page[AuditEntry])`)."""

    total: int
    page: int
    per_page: int
    items: list[T]
    pages: int = 0
    """How many pages of `per_page` the `total` makes (as search says it: 0 when there is nothing); worked out."""

    def __post_init__(self) -> None:
        self.pages = -(-self.total // self.per_page) if self.per_page > 0 else 0


# --- who is calling -------------------------------------------------------------------------------
Role = Literal["admin", "commissioner", "provider", "auditor"]
"""The roles an API key may have. An auditor reads what admins and commissioners read and changes nothing."""
ONE_OF: dict[str, str] = {
    "admin": "an admin",
    "commissioner": "a commissioner",
    "provider": "a provider",
    "auditor": "an auditor",
}
"""A role in words, as one of its kind ("you are signed in as an auditor", "an admin key")."""


class Caller(msgspec.Struct, frozen=True):
    """Who is making a request. Anonymous callers have no key."""

    role: Literal["admin", "commissioner", "provider", "auditor", "anonymous", "system"]
    """`system`: the command line, run by whoever operates the server."""
    key_id: int | None = None
    provider_id: int | None = None
    """The provider a provider key acts for."""
    name: str | None = None

    @property
    def is_anonymous(self) -> bool:
        return self.key_id is None

    @property
    def is_staff(self) -> bool:
        """Sees what staff see: admins and commissioners, and auditors, who read what they read (the guards keep
        auditors from every write: `accounts.auth.auditors_only_read`)."""
        return self.role in ("admin", "commissioner", "auditor")


ANONYMOUS = Caller(role="anonymous")
SYSTEM = Caller(role="system", name="command line")


class Actor(msgspec.Struct, frozen=True):
    """A caller plus the request it acts through: what history and audit records name.
    The command line acts as `Actor.system(...)`."""

    caller: Caller
    request_id: str
    method: str
    path: str
    client: str = ""
    """The address the request came from."""
    client_request_id: str | None = None
    """The X-Request-ID the client sent (request_id is always the server's own)."""

    @classmethod
    def system(cls, what: str) -> Actor:
        return cls(caller=SYSTEM, request_id="", method="CLI", path=what)

    @classmethod
    def seed(cls, what: str) -> Actor:
        """The demo data's loader (audited as method SEED, apart from what people do on the command line)."""
        return cls(caller=SYSTEM, request_id="", method="SEED", path=what)


# --- partial changes ------------------------------------------------------------------------------
S = TypeVar("S", bound=msgspec.Struct)


_OUTER = re.compile(rf"^[\s{_IGNORABLE}{_IGNORABLE_ASTRAL}]+|[\s{_IGNORABLE}{_IGNORABLE_ASTRAL}]+$")
"""Spaces and invisible (default-ignorable) characters at either end of a text: zero-width spaces and joiners,
direction marks, word joiners, byte-order marks, soft hyphens, variation selectors, tags..."""


_INVISIBLE = re.compile(rf"[{_IGNORABLE}{_IGNORABLE_ASTRAL}]")
"""The invisible characters of _OUTER, wherever they are."""


def trimmed(text: str) -> str:
    """`text` without spaces and invisible characters at its ends (those `nfc` takes off a name): free text as it is
    stored, so a note sent with a trailing space and the same note read back from a spreadsheet cell are one note."""
    return _OUTER.sub("", text)


def nfc(text: str) -> str:
    """Unicode NFC, outer spaces and every invisible character removed: the form names are stored in, so one name is
    never stored two ways (a trailing zero-width space made a name that read as another's a different name), and a
    name is found by what it shows (one with a zero-width space inside, pasted from a word processor, was found
    neither by a search for its words nor by reconciling its name)."""
    return _OUTER.sub("", _INVISIBLE.sub("", unicodedata.normalize("NFC", text)))


def decimal_places(x: float) -> int:
    """How many decimal places `x` has as written (its shortest form: 140.555 -> 3, 12.50 -> 1, 1e-05 -> 5)."""
    exponent = Decimal(repr(x)).normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def rounded(x: float, places: int) -> float:
    """`x` to `places` decimal places, a half away from zero as it is written (2.675 -> 2.68, where its binary value
    would give 2.67): a value a numeric(_, places) column then stores exactly as it is."""
    return float(Decimal(repr(x)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)) + 0.0  # never -0.0


LIGATURES = str.maketrans({"æ": "ae", "œ": "oe", "ø": "o", "đ": "d", "ł": "l", "þ": "th", "ð": "d", "ß": "ss"})
"""Letters NFKD does not take apart, written as their ASCII spellings."""


def fold(text: str) -> str:
    """Lower case without accents or ligatures: how search and reconciliation compare words (as the database's
    fold(), unaccent and lower, does for search)."""
    decomposed = unicodedata.normalize("NFKD", text.lower().translate(LIGATURES))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def merge(current: S, patch: msgspec.Struct) -> S:
    """`current` with the fields `patch` sets (UNSET fields are left alone, None clears).

    A nested patch of another type (a `ContactPatch` for a `Contact`) changes its object field by field;
    a nested value of the field's own type replaces it whole."""
    changes: dict[str, Any] = {}
    for name in patch.__struct_fields__:
        value = getattr(patch, name)
        if value is UNSET:
            continue
        old = getattr(current, name)
        if isinstance(value, msgspec.Struct) and isinstance(old, msgspec.Struct) and type(value) is not type(old):
            value = merge(old, value)
        changes[name] = value
    return msgspec.structs.replace(current, **changes)


def project(value: msgspec.Struct, into: type[S]) -> S:
    """The fields of `value` that `into` has, as an `into` (a full record's editable part)."""
    return into(**{name: getattr(value, name) for name in into.__struct_fields__})
