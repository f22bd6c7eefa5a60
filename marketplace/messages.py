"""Problems in plain English: what the decoder (msgspec) and the framework say of a value, said instead as what is
wanted, with an example and, for a taxonomy code, a did-you-mean suggestion. Never a regular expression.

The one error handler (`marketplace.http`) turns every validation failure into a `FieldProblem` here (`problem`), so a
new model gets these messages for free. A pattern's sentence is written beside the pattern (`types.plain`); a field
named like a taxonomy code (`CODE_FIELDS`) is told its taxonomy's form, the allowed codes and the closest one (by code
or by name: an area's name gets its code)."""

from __future__ import annotations

import calendar
import json
import math
import re
import sys
from collections.abc import Iterable, Mapping
from decimal import Decimal
from types import UnionType
from typing import TYPE_CHECKING, Annotated, Any, Final, Union, get_args, get_origin

import msgspec
from msgspec import inspect as mi
from rapidfuzz import fuzz, process, utils

from marketplace.errors import FieldProblem
from marketplace.formatting import number_words
from marketplace.types import PLAIN

if TYPE_CHECKING:  # (the taxonomy's models use the checks, which use this module)
    from marketplace.taxonomy.models import Taxonomy

CODE_FIELDS = {
    "pathway": "pathways",
    "pathways": "pathways",
    "area": "areas",
    "areas": "areas",
    "coverage": "areas",
    "cohort": "cohorts",
    "cohorts": "cohorts",
    "sector": "sectors",
    "legal_form": "legal_forms",
    "accreditation": "accreditations",
    "accreditations": "accreditations",
    "required_accreditations": "accreditations",
    "social_value": "social_value",
}
"""Field names (the last name in a field's path) whose values are taxonomy codes -> the taxonomy."""

CODE_KEYS = {"area_volumes": "areas"}
"""Object fields whose keys are taxonomy codes (`{"E06000020": 40}`) -> the taxonomy: a key that is not one is told
as a code field's value is (`area_volumes.Telford`: the form, the allowed codes, a did-you-mean)."""

CODE_WORDS = {
    "areas": ("area", "areas are ONS GSS codes, e.g. E06000019 for Herefordshire"),
    "pathways": ("pathway", "pathway codes are upper case, e.g. ACCOM"),
    "cohorts": ("cohort", "cohort codes are upper case, e.g. YOUNG_ADULTS"),
    "sectors": ("sector", "sector codes are lower case, e.g. third_sector"),
    "legal_forms": ("legal form", "legal form codes are lower case, e.g. cic"),
    "accreditations": ("accreditation", "accreditation codes are lower case, e.g. iso_9001"),
    "social_value": ("social value", "social value codes are lower case, e.g. peer_mentoring"),
}
"""taxonomy -> (what one code is called, what its codes look like, with an example: a code of the seeded data)."""

UNEXPLAINED = "is not in the form this field takes (the API docs at /schema/swagger describe each field)"
"""A pattern no sentence explains (tests/test_messages.py makes sure there is none): still no regex."""

TYPE_WORDS = {
    "int": "a whole number, e.g. 40",
    "float": "a number, e.g. 12.5",
    "number": "a number, e.g. 12.5",
    "decimal": "a number, e.g. 12.5",
    "str": 'text in double quotes, e.g. "Ledbury"',
    "bool": "true or false",
    "array": "a list in square brackets",  # a field's own kind of item is its example (`_example_at`)
    "object": "an object in braces",  # its fields, where known, are named (messages.problem)
    "date": "a date written YYYY-MM-DD, e.g. 2026-11-29",
    "datetime": "a date and time written YYYY-MM-DDThh:mm:ssZ, e.g. 2026-11-29T09:30:00Z",
    "time": "a time written hh:mm:ss, e.g. 09:30:00",
    "uuid": "a UUID, e.g. 123e4567-e89b-12d3-a456-426614174000",
}
FORM_WORDS = {
    "int": "a whole number, for example 25",
    "float": "a number, for example 12.5",
    "number": "a number, for example 12.5",
    "decimal": "a number, for example 12.5",
    "date": "a date written YYYY-MM-DD, for example 2026-11-29",
}
"""What a form field wants, where a form says it: a box in a form is always typed text and empty is how it says
nothing, so neither the JSON types nor null are named (`form=True`)."""
FORM_ANYTHING = "enter a value of the kind this field takes"
GOT_WORDS = {
    "int": "a whole number",
    "float": "a number",
    "str": "text",
    "bool": "true or false",
    "array": "a list",
    "object": "an object",
    "null": "null",
}

_PATTERN = re.compile(r"Expected `str` matching regex (?P<pattern>.*)$", re.S)
_LENGTH = re.compile(r"Expected `(?P<type>[^`]+)` of length (?P<op>[<>]=?) (?P<n>\d+)$")
_BOUND = re.compile(r"Expected `(?P<type>int|float|number|decimal)` (?:that is )?(?P<op>[<>]=?) (?P<n>\S+)$")
_MULTIPLE = re.compile(r"Expected `(?P<type>[^`]+)` that is a multiple of (?P<n>\S+)$")
_TYPE = re.compile(r"Expected `(?P<want>[^`]+)`, got `(?P<got>[^`]+)`$")
_ENUM = re.compile(r"Invalid (?:enum )?value (?P<value>.*)$", re.S)  # "Invalid value": a tagged union's tag
_FORMAT = re.compile(r"Invalid (?:RFC3339 encoded |ISO8601 encoded )?(?P<kind>date|datetime|time|uuid|UUID)\b")
_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


SAID_FOR: Final = {
    "female": "women",
    "females": "women",
    "woman": "women",
    "male": "men",
    "males": "men",
    "man": "men",
    "mixed": "both",
    "any": "both",
    "all": "both",
    "everyone": "both",
}
"""Words people write for a fixed list's values that look nothing like them ("female" for women: spelling alone
suggests nothing), offered when the value is among the choices."""


def suggest(value: str, allowed: Iterable[str], names: Mapping[str, str] | None = None) -> str | None:
    """The allowed code closest to value (by code, or by the code's name), if any is close; or the code it is another
    word for (SAID_FOR: "female" for women)."""
    choices = {code: code for code in allowed}
    if (meant := SAID_FOR.get(value.strip().lower())) in choices:
        return meant
    if names:
        choices.update({f"{code}\0name": name for code, name in names.items()})
    best = process.extractOne(value, choices, scorer=fuzz.WRatio, processor=utils.default_process, score_cutoff=60)
    if best is None:
        return None
    return str(best[2]).split("\0")[0]


def closest_choice(value: str, choices: Iterable[str]) -> str | None:
    """The value of a fixed list most like `value`, compared whole (case and punctuation aside), if one is close;
    or the value it is another word for (SAID_FOR)."""
    allowed = list(choices)
    if (meant := SAID_FOR.get(value.strip().lower())) in allowed:
        return meant
    best = process.extractOne(value, allowed, scorer=fuzz.ratio, processor=utils.default_process, score_cutoff=60)
    return None if best is None else str(best[0])


def closest_field(name: str, fields: Iterable[str]) -> str | None:
    """The field a misspelt one most likely meant ("qualty": quality), if one is close (a typo, not another word)."""
    best = process.extractOne(name, list(fields), scorer=fuzz.ratio, score_cutoff=75)
    return None if best is None else str(best[0])


def steps(field: str) -> list[str | int]:
    """A field as errors name it (`services[0].areas[1]`), step by step: ["services", 0, "areas", 1]."""
    return [int(index) if index else name for name, index in _STEP.findall(field)]


def value_at(document: Any, field: str) -> Any:
    """The value a field names in a decoded JSON document; None when there is none."""
    for step in steps(field):
        if isinstance(step, int):
            if not isinstance(document, list) or not 0 <= step < len(document):
                return None
            document = document[step]
        else:
            if not isinstance(document, dict) or step not in document:
                return None
            document = document[step]
    return document


def _types_at(annotation: Any, field: str) -> list[mi.Type]:
    """The types a field of `annotation` (a body type) may have, followed step by step (`services[0].areas`; "" is
    the body itself); [] when the field cannot be followed."""
    try:
        found: list[mi.Type] = [mi.type_info(annotation)]
    except (TypeError, ValueError):
        return []
    for step in steps(field):
        following: list[mi.Type] = []
        for t in _members(found):
            if isinstance(step, int) and isinstance(t, mi.ListType | mi.SetType | mi.FrozenSetType | mi.VarTupleType):
                following.append(t.item_type)
            elif isinstance(step, str) and isinstance(t, mi.StructType) and t.tag_field == step:
                following.append(mi.LiteralType(values=(t.tag,)))  # one of a tagged union's kinds
            elif isinstance(step, str) and isinstance(t, mi.StructType | mi.DataclassType | mi.TypedDictType):
                following.extend(f.type for f in t.fields if f.encode_name == step)
            elif isinstance(step, str) and isinstance(t, mi.DictType):
                following.append(t.value_type)
        found = following
    return _members(found)


def choices_at(annotation: Any, field: str) -> list[str]:
    """The values a field of `annotation` (a body type) may take when it is a fixed list (a Literal or an Enum);
    [] when it is not, or the field cannot be followed."""
    values: list[str] = []
    for t in _types_at(annotation, field):
        if isinstance(t, mi.LiteralType):
            values.extend(str(v) for v in t.values)
        elif isinstance(t, mi.EnumType):
            values.extend(str(m.value) for m in t.cls)
    return list(dict.fromkeys(values))


def fields_at(annotation: Any, field: str) -> list[str]:
    """The fields of the object a field of `annotation` holds (the body's own for ""); [] when it is no object with
    named fields, or the field cannot be followed."""
    names: list[str] = []
    for t in _types_at(annotation, field):
        if isinstance(t, mi.StructType | mi.DataclassType | mi.TypedDictType):
            names.extend(
                f.encode_name for f in t.fields if not (isinstance(t, mi.StructType) and f.encode_name == t.tag_field)
            )
    return list(dict.fromkeys(names))


def kinds_at(annotation: Any, field: str) -> tuple[str, dict[str, list[str]]] | None:
    """When the object a field of `annotation` holds is a tagged union (a key request's `role`: admin, provider,
    ...): its tag field, and each kind's tag with the fields that kind takes; None when it is no tagged union."""
    kinds = [t for t in _types_at(annotation, field) if isinstance(t, mi.StructType) and t.tag_field is not None]
    if not kinds:
        return None
    fields = {str(t.tag): [f.encode_name for f in t.fields if f.encode_name != t.tag_field] for t in kinds}
    return str(kinds[0].tag_field), fields


def _example_at(annotation: Any, field: str) -> str | None:
    """A value of the kind a field of `annotation` takes, as JSON, when one can be told from its type: the example of
    its text's pattern (`"GB-CHC-1234567"` for an identifier), the first of a fixed list's values, a whole number
    within its bounds, and for a list one such item in brackets (`["GB-CHC-1234567"]`); None otherwise (any text,
    an object: an example of another field's kind would mislead)."""
    for t in _types_at(annotation, field) if annotation is not None else []:
        if isinstance(t, mi.ListType | mi.SetType | mi.FrozenSetType | mi.VarTupleType):
            item = _example_at(annotation, f"{field}[0]")
            return f"[{item}]" if item is not None else None
        if isinstance(t, mi.StrType) and t.pattern is not None and t.pattern in PLAIN:
            return json.dumps(PLAIN[t.pattern][1], ensure_ascii=False)
        if isinstance(t, mi.LiteralType) and t.values:
            return json.dumps(t.values[0], ensure_ascii=False)
        if isinstance(t, mi.EnumType):
            return json.dumps(next(iter(t.cls)).value, ensure_ascii=False)
        if isinstance(t, mi.IntType):
            least = t.ge if t.ge is not None else None if t.gt is None else t.gt + 1
            return str(max(least, 1) if least is not None else 40)
    return None


def _items_at(annotation: Any, field: str) -> str | None:
    """What the items of a list field of `annotation` are, said when they are objects: "objects with fields such as
    text, weight" (None otherwise)."""
    names = fields_at(annotation, f"{field}[0]") if annotation is not None else []
    return f"objects in braces with fields such as {', '.join(names[:3])}" if names else None


SAID_BOUND = 1_000_000
"""A number's bound this large or larger is a guard against nonsense, not a rule a person needs told: left unsaid."""


def _bounds_at(annotation: Any, field: str) -> tuple[float | None, float | None, float | None]:
    """The least and the most a number field of `annotation` may be (its `ge`/`le`), and what it must be more than
    (its `gt`); None where it has none."""
    for t in _types_at(annotation, field) if annotation is not None else []:
        if isinstance(t, mi.IntType | mi.FloatType):
            return t.ge, t.le, t.gt
    return None, None, None


def _members(types: Iterable[mi.Type]) -> list[mi.Type]:
    """The types themselves, unwrapped of their constraints and unions."""
    out: list[mi.Type] = []
    for given in types:
        t = given
        while isinstance(t, mi.Metadata):
            t = t.type
        if isinstance(t, mi.UnionType):
            out.extend(_members(t.types))
        else:
            out.append(t)
    return out


def _got(m: re.Match[str], value: object) -> str:
    """What a type error got, in words: a number with a fraction where a whole number was wanted says so."""
    if m.group("got") == "float" and m.group("want").split(" | ")[0] == "int" and isinstance(value, float):
        return f"{value!r}, a number with a fraction"
    return GOT_WORDS.get(m.group("got"), m.group("got"))


def _outside_the_calendar(value: object) -> str | None:
    """What is wrong with a date written as one (YYYY-MM-DD) that names no day ("2026-02-30"); None otherwise."""
    if not isinstance(value, str) or not (m := _DAY.match(value)):
        return None
    year, month, day = (int(g) for g in m.groups())
    if not 1 <= month <= 12:
        return f"{value!r} is not a date: a month is 01 to 12"
    days = calendar.monthrange(year, month)[1] if year >= 1 else 31
    if not 1 <= day <= days:
        return f"{value!r} is not a date: {calendar.month_name[month]} {year} has days 01 to {days}"
    return None


_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def _type_words(names: str) -> str:
    """`int | null` -> "a whole number, e.g. 40, or null"."""
    parts = [p.strip() for p in names.split("|")]
    words = [TYPE_WORDS.get(p, p) for p in parts if p != "null"]
    said = " or ".join(words) if words else "null"
    return said + (", or null" if "null" in parts and words else "")


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "...'"


def _code_kind(field: str) -> str | None:
    """The taxonomy whose codes a field holds (by the last name in its path), if it holds codes."""
    names = [s for s in steps(field) if isinstance(s, str)]
    return CODE_FIELDS.get(names[-1]) if names else None


def not_a_code(value: object, noun: str, looks: str) -> str:
    """What a value not of the form its taxonomy's codes take is told, wherever it was sent (a body, a query string,
    a path): "'accom' is not a pathway code: pathway codes are upper case, e.g. ACCOM"."""
    article = "an" if noun[0] in "aeiou" else "a"
    return f"{_short(value)} is not {article} {noun} code: {looks}"


def code_problem(
    field: str, value: object, taxonomy: Taxonomy | None, *, key_of: str | None = None
) -> FieldProblem | None:
    """A value in a code field (`areas[0]`, `pathway`) that is not one of its taxonomy's codes: what the codes look
    like, the allowed codes and the closest (by code or name), or None when the field holds no codes. `key_of`: the
    value is a key of the object field so named (`area_volumes`, `CODE_KEYS`), not a field's value."""
    kind = CODE_KEYS.get(key_of) if key_of is not None else _code_kind(field)
    if kind is None:
        return None
    noun, form = CODE_WORDS[kind]
    codes = taxonomy.codes(kind) if taxonomy is not None else {}
    if isinstance(value, str) and value in codes:
        return None
    suggestion = suggest(value, codes, codes) if isinstance(value, str) and codes else None
    said = not_a_code(value, noun, form) if value is not None else form
    if suggestion is not None:
        said += f"; did you mean {suggestion} ({codes[suggestion]})?"
    return FieldProblem(field=field, problem=said, allowed=sorted(codes) or None, suggestion=suggestion)


NOT_UTF8 = "not valid UTF-8"
"""What a body that is not UTF-8 is told, however it was found out (the decoder, or reading it as text)."""


def not_utf8(where: str) -> str:
    """What a form field or query parameter whose bytes (percent-encoded or not) are not UTF-8 is told: `where` (the
    body, the query string) must be, and how é is written in it."""
    return f"{NOT_UTF8}: the {where} must be UTF-8 (é percent-encoded is %C3%A9, not Latin-1's %E9)"


HALF_A_CHARACTER = "has a \\u escape of half a character (a surrogate) without its other half{at}"
"""For the decoder's words for a lone surrogate when the JSON is not at hand (LONE_SURROGATE says more)."""
SURROGATE_WORDS = frozenset({"invalid utf-16 surrogate pair", "unexpected end of escaped utf-16 surrogate pair"})
"""The decoder's words for half a character (a lone UTF-16 surrogate escape); it calls some "truncated" too."""


JSON_WORDS = {
    "trailing characters": "has more after the JSON ends{at}: send one JSON value",
    "trailing comma in object": "has a comma after an object's last field{at}: remove it",
    "trailing comma in array": "has a comma after a list's last item{at}: remove it",
    "expected ',' or '}'": "is missing a comma between two fields, or the brace that closes an object{at}",
    "expected ',' or ']'": "is missing a comma between two items, or the bracket that closes a list{at}",
    "expected '\"'": 'is missing a field name in double quotes{at}, e.g. "name"',
    "expected ':'": "is missing the colon between a field's name and its value{at}",
    "object keys must be strings": 'has a field name not in double quotes{at} (JSON writes "name": value)',
    "invalid character": (
        "has a character JSON does not allow{at} (text goes in double quotes; true, false and null are written in "
        "lower case)"
    ),
    "invalid number": "has a number JSON does not allow{at} (no leading zeros; a digit after a decimal point)",
    "invalid escape character in string": "has a backslash in text that starts no JSON escape{at} (write \\\\ for one)",
    "invalid escaped character": "has a backslash in text that starts no JSON escape{at} (write \\\\ for one)",
    "invalid character in unicode escape": "has a \\u escape without four hexadecimal digits{at}, e.g. \\u00e9",
    "invalid utf-16 surrogate pair": HALF_A_CHARACTER,
    "unexpected end of escaped utf-16 surrogate pair": HALF_A_CHARACTER,
}
"""The decoder's (msgspec's) words for JSON it cannot read (`JSON is malformed: <these> (byte n)`) -> plain words,
said of the JSON as a whole; `{at}`: where (the line and column), when the JSON is at hand."""
TRUNCATED = "the JSON ends before it is complete (a closing quote, bracket or brace may be missing)"
"""For the decoder's "Input data was truncated"."""
LONE_SURROGATE = (
    "has {escape}{at}, half of a character (a lone UTF-16 surrogate): JSON text must be whole characters; send the "
    "character itself, or both halves of its escape"
)
"""For the decoder's "Input data was truncated" when the JSON is whole but escapes half a character."""
_ESCAPE = re.compile(r"\\(?:u([0-9a-fA-F]{4})|.)", re.DOTALL)


def _lone_surrogate(text: str) -> re.Match[str] | None:
    """The first `\\uD800`-style escape in `text` that is half a character: a high surrogate not followed by a low
    one, or a low one alone (escapes read in order, so an escaped backslash is never taken for one)."""
    escapes = list(_ESCAPE.finditer(text))
    for i, m in enumerate(escapes):
        unit = int(m.group(1), 16) if m.group(1) else None
        if unit is None or not 0xD800 <= unit <= 0xDFFF:
            continue
        after = escapes[i + 1] if i + 1 < len(escapes) else None
        paired = (
            unit <= 0xDBFF
            and after is not None
            and after.start() == m.end()
            and after.group(1) is not None
            and 0xDC00 <= int(after.group(1), 16) <= 0xDFFF
        )
        before = escapes[i - 1] if i else None
        low_of_pair = (
            unit >= 0xDC00
            and before is not None
            and before.end() == m.start()
            and before.group(1) is not None
            and 0xD800 <= int(before.group(1), 16) <= 0xDBFF
        )
        if not paired and not low_of_pair:
            return m
    return None


def _half_a_character(text: str | None, field: str) -> FieldProblem | None:
    """Half a character (a lone surrogate escape) in the JSON `text`, however the decoder said it: which escape, the
    line and column, and the field holding it when the JSON is otherwise whole (`title`; else `field`, the JSON's own
    name). None when `text` holds none."""
    if text is None or (half := _lone_surrogate(text)) is None:
        return None
    where = _line_and_column(text, len(text[: half.start()].encode()))
    return FieldProblem(
        field=_joined(field, _half_at(text) or ""), problem=LONE_SURROGATE.format(escape=half.group(0), at=where)
    )


_HALF = re.compile("[\ud800-\udfff]")


def _half_at(text: str) -> str | None:
    """The path (`services[0].name`) of the first text in the JSON `text` holding half a character; None when the
    standard library (which reads such escapes, as the decoder does not) cannot read it, or it is a field's name."""
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return _first_half(document, "")


def _first_half(value: Any, path: str) -> str | None:
    if isinstance(value, str):
        return path if _HALF.search(value) else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        if isinstance(key, str) and _HALF.search(key):  # a field's name: said of the object holding it
            return path
        found = _first_half(item, f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}".lstrip("."))
        if found is not None:
            return found
    return None


TOO_LARGE = {
    "Number out of range": "a number too large to read",
    "Integer value out of range": "a whole number too large to read",
}
"""The decoder's words for a number it can parse but not hold -> plain words, said of the field holding it."""
_MALFORMED = re.compile(r"JSON is malformed: (?P<what>.+) \(byte (?P<at>\d+)\)$", re.S)
_AT_PATH = re.compile(r"(?P<said>.+?) - at `\$(?P<path>[^`]*)`$", re.S)


def unreadable_json(said: str, body: bytes | str | None = None, *, field: str = "body") -> FieldProblem | None:
    """What the decoder said of JSON it could not read (`said`), in plain words naming where: the field holding a
    number too large to read (`founded_year`; `field` is the JSON's own name, `body` for a request's), else `field`
    and the line and column in `body` (its text) where reading stopped. None when `said` is not about reading JSON:
    the decoder's words never reach a client (tests/test_messages.py)."""
    said = said.strip()
    located = _AT_PATH.match(said)
    words, path = (located.group("said"), located.group("path")) if located else (said, "")
    if words in TOO_LARGE:
        if "[...]" in path:  # an object's key the decoder did not keep: found again by reading the numbers as text
            path = _too_large_at(body) or ""
        where = _joined(field, path.lstrip("."))
        return FieldProblem(field=where, problem=("is " if where != field else "has ") + TOO_LARGE[words])
    if words == "Input data was truncated":
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        empty = text is not None and not text.strip()
        if (half := _half_a_character(text, field)) is not None:  # the decoder calls this truncated too
            return half
        return FieldProblem(field=field, problem="is empty: send JSON" if empty else TRUNCATED)
    if (m := _MALFORMED.match(words)) and m.group("what") in SURROGATE_WORDS:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        if (half := _half_a_character(text, field)) is not None:
            return half
    if (m := _MALFORMED.match(words)) and m.group("what") in JSON_WORDS:
        raw = body.encode() if isinstance(body, str) else body
        if int(m.group("at")) == 0 and raw is not None and raw.startswith(b"\xef\xbb\xbf"):
            return FieldProblem(field=field, problem=BYTE_ORDER_MARK)  # invisible: say what it is
        where = _line_and_column(body, int(m.group("at")))
        return FieldProblem(field=field, problem=JSON_WORDS[m.group("what")].format(at=where))
    return None


BYTE_ORDER_MARK = (
    "starts with a byte-order mark (an invisible character some editors put first): send the JSON without it, "
    "e.g. saved as UTF-8 rather than UTF-8 with BOM"
)


def _joined(field: str, path: str) -> str:
    """A path inside `field`'s JSON as errors name it: `founded_year` in a body, `queries.q0.limit` in a field."""
    if not path:
        return field
    if field == "body" and not path.startswith("["):
        return path
    return f"{field}{path}" if path.startswith("[") else f"{field}.{path}"


def _line_and_column(body: bytes | str | None, at: int) -> str:
    """` near line 2, column 7`: where, in `body`, the decoder's byte offset `at` is ("" without the body)."""
    if body is None:
        return ""
    raw = body.encode() if isinstance(body, str) else body
    before = raw[:at].decode("utf-8", "replace")
    line = before.count("\n") + 1
    column = len(before) - (before.rfind("\n") + 1) + 1
    return f" near line {line}, column {column}"


def _too_large_at(body: bytes | str | None) -> str | None:
    """The path (`services[0].capacity`) of the first number in `body` too large to hold as a float."""
    if body is None:
        return None
    try:
        document = msgspec.json.Decoder(float_hook=Decimal).decode(body)
    except (msgspec.DecodeError, RecursionError):
        return None
    return _first_infinite(document, "")


def _first_infinite(value: Any, path: str) -> str | None:
    if isinstance(value, Decimal):
        return path if abs(value) > _LARGEST_FLOAT else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found = _first_infinite(item, f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}".lstrip("."))
        if found is not None:
            return found
    return None


_LARGEST_FLOAT = Decimal(sys.float_info.max)


def _not_a_number(value: object) -> bool:
    """A float NaN, or the text a query string spells one with (`nan`, `NaN`, `-nan`)."""
    if isinstance(value, float):
        return math.isnan(value)
    return isinstance(value, str) and value.strip().lower().lstrip("+-") == "nan"


def _form_words(names: str) -> str:
    """`int | null` in a form -> "enter a whole number, for example 25" (null is an empty box)."""
    words = [FORM_WORDS[p] for p in (p.strip() for p in names.split("|")) if p in FORM_WORDS]
    return f"enter {' or '.join(dict.fromkeys(words))}" if words else FORM_ANYTHING


def plain_words(
    said: str, *, value: object = None, choices: list[str] | None = None, form: bool = False
) -> tuple[str, str | None]:
    """What the decoder or the framework said of a value, in plain English; and a suggestion when there is one.
    `form`: said to someone filling in a form (the console), not writing JSON: what to type, never "null"."""
    said = said.strip()
    if said.startswith("Invalid UTF-8"):  # the decoder's words for a body that is not UTF-8
        return NOT_UTF8, None
    if (unreadable := unreadable_json(said)) is not None:  # JSON it could not read (where is not known here)
        return unreadable.problem, None
    if m := _PATTERN.match(said):
        quoted = m.group("pattern")
        for pattern, (wanted, _) in PLAIN.items():
            if quoted in (repr(pattern), pattern, f"'{pattern}'"):
                return wanted, None
        return UNEXPLAINED, None
    if m := _LENGTH.match(said):
        length, op, text = int(m.group("n")), m.group("op"), m.group("type") == "str"
        item = "entry" if m.group("type") == "object" else "item"  # an object's entries (`"E06000020": 40`)
        if op == ">=" and length == 1:
            return ("must not be empty" if text else f"must have at least one {item}"), None
        least = {">=": length, ">": length + 1}.get(op)
        most = {"<=": length, "<": length - 1}.get(op)
        bound = f"at least {least}" if least is not None else f"at most {most}"
        if text and least is not None and value == "":  # an empty box: say so first, then how long it must be
            return f"must not be empty: {bound} characters", None
        items = "entries" if item == "entry" else "items"
        return (f"must be {bound} characters long" if text else f"must have {bound} {items}"), None
    if m := _BOUND.match(said):
        if _not_a_number(value):  # NaN fails every bound: the bound it is told first would mislead
            return "must be a number; NaN (not a number) is not one", None
        n, op = m.group("n").removesuffix(".0"), m.group("op")
        words = {">=": f"{n} or more", ">": f"more than {n}", "<=": f"{n} or less", "<": f"less than {n}"}[op]
        return f"must be {words}", None
    if m := _MULTIPLE.match(said):
        return f"must be a multiple of {m.group('n')}", None
    if (m := _TYPE.match(said)) and form:
        return _form_words(m.group("want")), None
    if m := _TYPE.match(said):
        return f"must be {_type_words(m.group('want'))}; got {_got(m, value)}", None
    if _ENUM.match(said):
        shown = _short(value) if value is not None else "this value"
        if choices:  # a fixed list's values are compared whole (WRatio would take "self_reported" for
            # commissioner_reported, by its part "reported", before self_declared)
            best = closest_choice(value, choices) if isinstance(value, str) else None
            hint = f"; did you mean {best}?" if best else ""
            return f"{shown} is not one of the values allowed: {', '.join(choices)}{hint}", best
        return f"{shown} is not one of the values allowed", None
    if m := _FORMAT.match(said):
        kind = m.group("kind").lower()
        if kind == "date" and (outside := _outside_the_calendar(value)) is not None:
            return outside, None
        return (f"enter {FORM_WORDS[kind]}" if form and kind in FORM_WORDS else f"must be {TYPE_WORDS[kind]}"), None
    if "regex" in said or "pattern" in said:  # whatever else says so, never show one
        return UNEXPLAINED, None
    return said, None


def problem(
    field: str,
    said: str,
    *,
    value: object = None,
    declared: Any = None,
    path: str | None = None,
    taxonomy: Taxonomy | None = None,
    form: bool = False,
    bounds: tuple[float | None, float | None] | None = None,
    key_of: str | None = None,
) -> FieldProblem:
    """One field's problem as a person can act on it. `said`: the decoder's or framework's words; `value`: what was
    sent there (when known); `declared` and `path`: the type the body (or query parameter) decodes to and where in it
    the field is (`field` unless given), for a fixed list's values; `taxonomy`: for code fields' allowed codes and
    did-you-mean; `form`: said to someone filling in a form (see `plain_words`); `key_of`: the problem is with
    `value` as a key of the object field so named (`area_volumes.Telford`), not with a value."""
    if form and value == "" and (kind := _code_kind(field) if _PATTERN.match(said.strip()) else None):
        return FieldProblem(field=field, problem=f"choose a {CODE_WORDS[kind][0]}")  # a list left at its blank
    if form and value == "" and _ENUM.match(said.strip()):
        return FieldProblem(field=field, problem="choose one")
    if _PATTERN.match(said.strip()) and (found := code_problem(field, value, taxonomy, key_of=key_of)) is not None:
        return found
    enum = declared is not None and _ENUM.match(said.strip())
    choices = choices_at(declared, field if path is None else path) if enum else None
    words, suggestion = plain_words(said, value=value, choices=choices, form=form)
    m = _TYPE.match(said.strip())
    if not form and m and m.group("want").split(" | ")[0] == "object":
        # an object's own fields, not an example object's (whose fields would be another's)
        names = ", ".join(fields_at(declared, field if path is None else path)[:3]) if declared is not None else ""
        if field == "body":
            words = "must be a JSON object in braces with this operation's fields" + (
                f", such as {names}" if names else ""
            )
        else:
            words = "must be an object in braces" + (f" with fields such as {names}" if names else "")
        words += (
            ", or null" if "null" in m.group("want") else ""
        ) + f"; got {GOT_WORDS.get(m.group('got'), m.group('got'))}"
    elif not form and m and m.group("want").split(" | ")[0] in ("str", "array") and _code_kind(field) is not None:
        # a code field is told what its codes look like, not an example of any text or list ("Ledbury", ["ADULTS"])
        noun, looks = CODE_WORDS[_code_kind(field) or ""]
        article = "an" if noun[0] in "aeiou" else "a"
        one = m.group("want").split(" | ")[0] == "str"
        wanted = f"{article} {noun} code in double quotes" if one else f"a list of {noun} codes in square brackets"
        nullable = ", or null" if "null" in m.group("want") else ""
        words = f"must be {wanted} ({looks}){nullable}; got {_got(m, value)}"
    elif not form and m and m.group("want").split(" | ")[0] in ("str", "array") and declared is not None:
        # its own kind of value as the example (an identifier's, not a cohort code or a place name)
        at, one = field if path is None else path, m.group("want").split(" | ")[0] == "str"
        example, items = _example_at(declared, at), None if one else _items_at(declared, at)
        if example is not None or items is not None:
            wanted = "text in double quotes" if one else "a list in square brackets" + (f" of {items}" if items else "")
            nullable = ", or null" if "null" in m.group("want") else ""
            words = f"must be {wanted}" + (f", e.g. {example}" if example else "") + f"{nullable}; got {_got(m, value)}"
    elif m and m.group("want").split(" | ")[0] in ("int", "float"):
        # a number with bounds is told them, not an example that may lie outside them (threshold: "e.g. 12.5")
        lo, hi, above = (*bounds, None) if bounds is not None else _bounds_at(declared, field if path is None else path)
        lo, hi, above = (None if x is None or abs(x) >= SAID_BOUND else x for x in (lo, hi, above))  # a guard
        if lo is not None or hi is not None or above is not None:
            wanted = number_words(whole=m.group("want").startswith("int"), least=lo, most=hi, above=above)
            nullable = ", or null" if "null" in m.group("want") else ""
            words = f"enter {wanted}" if form else f"must be {wanted}{nullable}; got {_got(m, value)}"
    return FieldProblem(field=field, problem=words, allowed=choices or None, suggestion=suggestion)


def decoded(body: bytes | None) -> Any:
    """A request body as JSON, for finding the value a problem is about; None when it is not JSON."""
    if not body:
        return None
    try:
        return msgspec.json.decode(body)
    except (msgspec.DecodeError, RecursionError):  # not JSON, or nested deeper than the decoder goes
        return None


# --- every problem in a body, not only the decoder's first ---------------------------------------------------

_AT = re.compile(r"^(.*) - at `\$(.*)`$", re.S)
MISSING_FIELD = re.compile(r"^Object missing required field `(.+)`$")
"""What `failures` says of an object without a field it needs (the field's name its group)."""


def failed(value: Any, annotation: Any, *, strict: bool = True) -> tuple[str, str] | None:
    """Where in `value` (a path relative to it: "", `.email`, `[1].area`) the decoder stops, reading it as
    `annotation` (strictly, as the API reads JSON, unless not `strict`), and what it says there; None when it
    decodes."""
    try:
        msgspec.convert(value, annotation, strict=strict)
    except msgspec.ValidationError as exc:
        said = str(exc)
        if (m := _AT.match(said)) is not None:
            return m.group(1), m.group(2)
        return said, ""
    return None


def _under(path: str, sub: str) -> str:
    return sub.removeprefix(".") if not path else path + sub


def _parts(value: Any, annotation: Any) -> list[tuple[str, Any, Any]]:
    """The parts of `value` (an object's fields, a list's items, a table's entries by their keys) with the type each
    is read as, for `annotation` (a Struct, a list or a dict, possibly constrained, optional or in a union)."""
    for member in _alternatives(annotation):
        if isinstance(value, dict) and isinstance(member, type) and issubclass(member, msgspec.Struct):
            fields = {f.encode_name: f.type for f in msgspec.structs.fields(member)}
            return [(f".{k}", v, fields[k]) for k, v in value.items() if k in fields]
        if isinstance(value, list) and get_origin(member) is list:
            (item,) = get_args(member)
            return [(f"[{i}]", v, item) for i, v in enumerate(value)]
        if isinstance(value, dict) and get_origin(member) is dict:  # the decoder names no key (`area_volumes[...]`)
            _, item = get_args(member)
            return [(f".{k}", v, item) for k, v in value.items()]
    return []


def _alternatives(annotation: Any) -> list[Any]:
    """A type's alternatives, less their constraints (`Annotated[list[X], Meta(...)] | UnsetType` -> [list[X],
    UnsetType])."""
    if get_origin(annotation) is Annotated:
        return _alternatives(get_args(annotation)[0])
    if get_origin(annotation) in (Union, UnionType):
        return [m for a in get_args(annotation) for m in _alternatives(a)]
    return [annotation]


def failures(value: Any, annotation: Any, path: str = "", *, strict: bool = True) -> list[tuple[str, str]]:
    """Every place in `value` the decoder stops reading it as `annotation` (its path in the body, "" for `value` itself,
    and what it says there, as `failed`): where it stops inside an object or a list, each of its parts is read on its
    own, so one mistake does not hide the next; in an object of one known kind (a Struct, not a union of them), every
    required field missing and every field it does not know are told too. The decoder stops at the first problem; a
    form (the console) and a JSON body (the API) are told them all. A problem between fields (each part reads on its
    own) is the decoder's one. `strict`: as `failed`."""
    found = failed(value, annotation, strict=strict)
    if found is None:
        return []
    said, at = found
    inner: list[tuple[str, str]] = []
    structs = [m for m in _alternatives(annotation) if isinstance(m, type) and issubclass(m, msgspec.Struct)]
    one = structs[0] if isinstance(value, dict) and len(structs) == 1 else None  # an object of one known kind
    if at or one is not None:
        for sub, part, kind in _parts(value, annotation):
            inner += failures(part, kind, _under(path, sub), strict=strict)
    if one is not None:
        fields = msgspec.structs.fields(one)
        inner += [
            (path, f"Object missing required field `{f.encode_name}`")
            for f in fields
            if f.required and f.encode_name not in value
        ]
        if one.__struct_config__.forbid_unknown_fields:
            names = {f.encode_name for f in fields} | {one.__struct_config__.tag_field}  # a tagged kind's tag too
            inner += [(path, f"Object contains unknown field `{k}`") for k in value if k not in names]
    return inner or [(_under(path, at), said)]
