"""Messages in plain English: every pattern a field type uses is explained, with an example that fits it, and no error
the API gives shows a regular expression; code fields get the form their codes take and a did-you-mean; If-Match
problems each say what to send."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from collections.abc import Sequence
from typing import Annotated, Any, get_origin

import msgspec
import pytest
from conftest import fetchval
from litestar.testing import AsyncTestClient
from msgspec import Meta
from msgspec import inspect as mi

import marketplace
from marketplace import messages
from marketplace.errors import FieldProblem
from marketplace.types import PLAIN

# What gives a regular expression away (none of it is needed to say what a value should look like).
REGEX_SYNTAX = re.compile(
    r"\\[xudswDSW]|\[\^|\{\d+(,\d*)?\}|\(\?|\(\w+\|\w+|^\^|\$$|'\^|\$'|\[[A-Za-z0-9]-[A-Za-z0-9]\]"
)


def _walk(t: mi.Type, seen: dict[int, mi.Type], found: dict[str, list[mi.Type]]) -> None:
    """Every constrained leaf type under `t` (strings with a pattern or a length, bounded numbers)."""
    if id(t) in seen:
        return
    seen[id(t)] = t  # held, so that no id is reused by another type
    if isinstance(t, mi.Metadata):
        _walk(t.type, seen, found)
    elif isinstance(t, mi.StrType):
        if t.pattern is not None:
            found.setdefault("pattern", []).append(t)
        if t.min_length is not None or t.max_length is not None:
            found.setdefault("length", []).append(t)
    elif isinstance(t, mi.IntType | mi.FloatType):
        if t.ge is not None or t.le is not None or t.gt is not None or t.lt is not None:
            found.setdefault("bound", []).append(t)
    elif isinstance(t, mi.UnionType):
        for m in t.types:
            _walk(m, seen, found)
    elif isinstance(t, mi.ListType | mi.SetType | mi.FrozenSetType | mi.VarTupleType):
        _walk(t.item_type, seen, found)
    elif isinstance(t, mi.TupleType):
        for m in t.item_types:
            _walk(m, seen, found)
    elif isinstance(t, mi.DictType):
        _walk(t.key_type, seen, found)
        _walk(t.value_type, seen, found)
    elif isinstance(t, mi.StructType | mi.DataclassType | mi.TypedDictType | mi.NamedTupleType):
        for f in t.fields:
            _walk(f.type, seen, found)


def constrained_types() -> dict[str, list[mi.Type]]:
    """Found by introspection: every Struct in the marketplace and every module-level Annotated alias (so a pattern a
    new model adds is found without being listed anywhere)."""
    roots: list[Any] = []
    for mod in pkgutil.walk_packages(marketplace.__path__, "marketplace."):
        if mod.name.endswith("__main__"):
            continue
        module = importlib.import_module(mod.name)
        for obj in vars(module).values():
            if inspect.isclass(obj) and issubclass(obj, msgspec.Struct) and obj.__module__ == module.__name__:
                if not getattr(obj, "__parameters__", ()):
                    roots.append(obj)
            elif get_origin(obj) is Annotated:
                roots.append(obj)
    found: dict[str, list[mi.Type]] = {}
    seen: dict[int, mi.Type] = {}
    for root in roots:
        try:
            info = mi.type_info(root)
        except (TypeError, ValueError):  # not a type msgspec decodes (a Struct holding a framework object)
            continue
        _walk(info, seen, found)
    return found


FOUND = constrained_types()
PATTERNS = sorted({t.pattern for t in FOUND["pattern"] if isinstance(t, mi.StrType) and t.pattern})


def test_introspection_finds_the_patterns_we_know() -> None:
    """The walk itself bites: it finds the shared types' patterns and the rooms' own (the org-id, the key name)."""
    from marketplace.accounts.models import KEY_NAME
    from marketplace.types import AREA_CODE, EMAIL, TEXT, UPPER_CODE

    org_id = next(p for p in PATTERNS if p.startswith("^GB-("))
    assert {TEXT, EMAIL, AREA_CODE, UPPER_CODE, KEY_NAME, org_id} <= set(PATTERNS)
    assert len(PATTERNS) >= 10


@pytest.mark.parametrize("pattern", PATTERNS)
def test_every_pattern_is_explained_with_an_example_that_fits(pattern: str) -> None:
    assert pattern in PLAIN, f"a field type's pattern {pattern!r} has no sentence: use marketplace.types.plain"
    wanted, example = PLAIN[pattern]
    assert f"e.g. {example}" in wanted or f"the form {example}" in wanted, (wanted, example)
    assert re.search(pattern, example), f"the example {example!r} does not fit its own pattern"
    assert not REGEX_SYNTAX.search(wanted), wanted
    # and what the decoder really says of a value that does not fit becomes that sentence
    with pytest.raises(msgspec.ValidationError) as refused:
        msgspec.convert("\x00", Annotated[str, Meta(pattern=pattern)])
    said = str(refused.value)
    assert "regex" in said, "the decoder's own words name the regex: the case this test is about"
    assert messages.problem("x", said).problem == wanted


def _violations(t: mi.Type) -> list[Any]:
    """Values just outside a type's constraints."""
    if isinstance(t, mi.StrType):
        return [v for v in ("" if t.min_length else None, "x" * (t.max_length + 1) if t.max_length else None) if v]
    assert isinstance(t, mi.IntType | mi.FloatType)
    out: list[Any] = []
    if t.ge is not None:
        out.append(t.ge - 1)
    if t.le is not None:
        out.append(t.le + 1)
    if t.gt is not None:
        out.append(t.gt)
    if t.lt is not None:
        out.append(t.lt)
    return out


def _annotated(t: mi.Type) -> Any:
    if isinstance(t, mi.StrType):
        return Annotated[str, Meta(min_length=t.min_length, max_length=t.max_length)]
    base = int if isinstance(t, mi.IntType) else float
    assert isinstance(t, mi.IntType | mi.FloatType)
    return Annotated[base, Meta(ge=t.ge, le=t.le, gt=t.gt, lt=t.lt)]


NUMBER = r"-?[0-9][0-9.e+]*"
IN_WORDS = (
    rf"must (not be empty|be (at (least|most) \d+ characters long|{NUMBER} or (more|less)|(more|less) than {NUMBER}))"
)


def test_every_length_and_bound_is_said_in_words() -> None:
    """Each length or range constraint in the code base, violated: the problem says what is wanted, in words."""
    checked = 0
    for t in FOUND["length"] + FOUND["bound"]:
        for bad in _violations(t):
            if bad == "" and isinstance(t, mi.StrType) and t.min_length == 0:
                continue
            with pytest.raises(msgspec.ValidationError) as refused:
                msgspec.convert(bad, _annotated(t))
            said = messages.problem("x", str(refused.value)).problem
            assert "`" not in said and "Expected" not in said, said
            assert re.fullmatch(IN_WORDS, said), said
            checked += 1
    assert checked > 20


@pytest.mark.parametrize(
    ("said", "wanted"),
    [
        ("Expected `int`, got `str`", "must be a whole number, e.g. 40; got text"),
        ("Expected `int | null`, got `str`", "must be a whole number, e.g. 40, or null; got text"),  # bounds unknown
        ("Expected `array`, got `str`", "must be a list in square brackets; got text"),  # no example of another's
        ("Expected `object`, got `array`", "must be an object in braces; got a list"),
        ("Invalid RFC3339 encoded date", "must be a date written YYYY-MM-DD, e.g. 2026-11-29"),
        ("Expected `array` of length <= 50", "must have at most 50 items"),
        ("Expected `str` matching regex '^[a-z]{3}$'", messages.UNEXPLAINED),  # a pattern nobody explained: no regex
    ],
)
def test_the_decoders_words_become_plain(said: str, wanted: str) -> None:
    assert messages.problem("x", said).problem == wanted


def test_code_examples_are_real_codes(read_client: AsyncTestClient) -> None:
    """The examples the code fields' sentences give are codes of the (seeded) taxonomies."""
    taxonomy = read_client.app.state.ctx.taxonomy
    for kind, (_, form) in messages.CODE_WORDS.items():
        example = form.split("e.g. ")[1].split(" ")[0]
        assert example in taxonomy.codes(kind), (kind, example)
    assert set(messages.CODE_FIELDS.values()) <= set(messages.CODE_WORDS)
    # every field the OpenAPI document publishes codes for is one the messages know
    from marketplace.openapi import CODE_NAMES

    assert CODE_NAMES.items() <= messages.CODE_FIELDS.items()


# --- through the real app -------------------------------------------------------------------------------------------

SERVICE = {"pathway": "ETE", "name": "Lantern jobs club", "description": "Weekly.", "cohorts": ["ADULTS"]}
SERVICE["areas"] = ["E06000019"]


def registration(**changes: Any) -> dict[str, Any]:
    service = {**SERVICE, **changes.pop("service", {})}
    return {"name": "Ledbury Lanterns CIC", "legal_form": "cic", "services": [service], **changes}


async def one_problem(client: AsyncTestClient, body: dict[str, Any]) -> dict[str, Any]:
    r = await client.post("/registrations", json=body)
    assert r.status_code == 400, r.text
    payload = r.json()
    assert payload["error"] == "invalid_input" and len(payload["errors"]) == 1, payload
    problem: dict[str, Any] = payload["errors"][0]
    assert set(problem) <= {"field", "problem", "allowed", "suggestion"}  # the body's shape is kept
    assert f"{problem['field']}: {problem['problem']}" == payload["message"]
    assert not REGEX_SYNTAX.search(payload["message"]) and "regex" not in payload["message"], payload
    return problem


async def test_a_bad_email_is_told_what_an_address_looks_like(read_client: AsyncTestClient) -> None:
    problem = await one_problem(read_client, registration(contact={"email": "info at example.org"}))
    assert problem == {"field": "contact.email", "problem": PLAIN[problem_pattern("EMAIL")][0]}
    assert "e.g. info@example.org.uk" in problem["problem"]


def problem_pattern(name: str) -> str:
    pattern: str = getattr(importlib.import_module("marketplace.types"), name)
    return pattern


async def test_a_bare_charity_number_is_told_the_form(read_client: AsyncTestClient) -> None:
    problem = await one_problem(read_client, registration(identifiers=["1234567"]))
    assert problem["field"] == "identifiers[0]"
    assert problem["problem"].startswith("use the form GB-CHC-1234567")


async def test_a_lower_case_pathway_gets_the_form_and_the_code(read_client: AsyncTestClient) -> None:
    problem = await one_problem(read_client, registration(service={"pathway": "accom"}))
    assert problem["field"] == "services[0].pathway"
    assert problem["problem"] == (
        "'accom' is not a pathway code: pathway codes are upper case, e.g. ACCOM; did you mean ACCOM (Accommodation)?"
    )
    assert problem["suggestion"] == "ACCOM" and "ETE" in problem["allowed"]


async def test_an_area_name_in_a_body_gets_its_code(read_client: AsyncTestClient) -> None:
    """As the query string does (`?area=Herefordshire` suggests E06000019), so does a body."""
    problem = await one_problem(read_client, registration(service={"areas": ["E06000051", "Herefordshire"]}))
    assert problem["field"] == "services[0].areas[1]"
    assert problem["problem"].startswith(
        "'Herefordshire' is not an area code: areas are ONS GSS codes, e.g. E06000019 for Herefordshire"
    )
    assert problem["suggestion"] == "E06000019"
    query = (await read_client.get("/providers", params={"area": "Herefordshire"})).json()["errors"][0]
    assert query["suggestion"] == problem["suggestion"]


async def test_a_cohort_by_its_name_and_a_legal_form_in_capitals(read_client: AsyncTestClient) -> None:
    cohort = await one_problem(read_client, registration(service={"cohorts": ["young adults"]}))
    assert cohort["suggestion"] == "YOUNG_ADULTS" and "cohort codes are upper case" in cohort["problem"]
    legal_form = await one_problem(read_client, registration(legal_form="CIC"))
    assert legal_form["suggestion"] == "cic" and "legal form codes are lower case" in legal_form["problem"]
    # of the wrong type, a code field is told what its codes look like (it was offered "Ledbury", or ["ADULTS"])
    legal_form = await one_problem(read_client, registration(legal_form=None))
    assert legal_form["problem"] == (
        "must be a legal form code in double quotes (legal form codes are lower case, e.g. cic); got null"
    )
    social_value = await one_problem(read_client, registration(social_value=None))
    assert social_value["problem"] == (
        "must be a list of social value codes in square brackets (social value codes are lower case, e.g. "
        "peer_mentoring); got null"
    )
    record = {"outcome": "Housed", "measure": "share housed", "period": "2025-26", "source": "self_reported"}
    source = await one_problem(read_client, registration(service={"outcomes": [record]}))
    assert source["suggestion"] == "self_declared", source


async def test_a_value_outside_a_fixed_list_names_the_list(read_client: AsyncTestClient) -> None:
    problem = await one_problem(read_client, registration(service={"eligibility": {"gender": "ladies"}}))
    assert problem["field"] == "services[0].eligibility.gender"
    assert sorted(problem["allowed"]) == ["both", "men", "women"]
    assert problem["problem"].startswith(f"'ladies' is not one of the values allowed: {', '.join(problem['allowed'])}")


async def test_another_word_for_a_value_suggests_it(read_client: AsyncTestClient) -> None:
    """ "female" looks nothing like "women" letter by letter, so no suggestion came, in a body or a search; now the
    value it is another word for is suggested."""
    problem = await one_problem(read_client, registration(service={"eligibility": {"gender": "female"}}))
    assert problem["suggestion"] == "women" and problem["problem"].endswith("did you mean women?"), problem
    r = await read_client.get("/providers", params={"gender": "Male"})
    assert r.status_code == 400, r.text
    assert r.json()["errors"][0]["suggestion"] == "men", r.text
    assert "did you mean men?" in r.json()["errors"][0]["problem"]


async def test_wrong_types_dates_and_ranges_in_words(read_client: AsyncTestClient) -> None:
    ten = await one_problem(read_client, registration(service={"capacity": {"service_users_per_year": "ten"}}))
    assert ten["problem"] == "must be a whole number of 0 or more, or null; got text"  # its bounds (10m unsaid)
    date = await one_problem(read_client, registration(service={"capacity": {"places_as_of": "29/11/2026"}}))
    assert date["problem"] == "must be a date written YYYY-MM-DD, e.g. 2026-11-29"
    # written as a date, but no day: what is wrong with it, not the form it already has
    for day, said in (("2026-02-30", "February 2026 has days 01 to 28"), ("2026-13-01", "a month is 01 to 12")):
        date = await one_problem(read_client, registration(service={"capacity": {"places_as_of": day}}))
        assert date["problem"] == f"'{day}' is not a date: {said}", date
    half = await one_problem(read_client, registration(service={"capacity": {"service_users_per_year": 12.5}}))
    assert half["problem"] == "must be a whole number of 0 or more, or null; got 12.5, a number with a fraction"
    empty = await one_problem(read_client, registration(name=""))
    assert empty == {"field": "name", "problem": "must not be empty: at least 2 characters"}  # empty, said first
    short = await one_problem(read_client, registration(name="A"))
    assert short == {"field": "name", "problem": "must be at least 2 characters long"}
    r = await read_client.get("/providers", params={"per_page": "500"})
    assert r.status_code == 400 and r.json()["errors"] == [{"field": "per_page", "problem": "must be 100 or less"}]


async def test_if_match_missing_unquoted_weak_and_stale_each_say_what_to_send(client: AsyncTestClient, keys) -> None:
    headers = await keys.headers("provider", 12)
    tag = (await client.get("/providers/12", headers=headers)).headers["etag"]
    version = tag.strip('"')

    async def patch(if_match: str | None) -> tuple[int, dict[str, Any]]:
        h = {**headers, **({"If-Match": if_match} if if_match is not None else {})}
        r = await client.patch("/providers/12", json={"website": None}, headers=h)
        return r.status_code, r.json()

    status, body = await patch(None)
    assert status == 428 and body["errors"][0]["field"] == "If-Match"
    assert 'in quotes, e.g. If-Match: "v3"' in body["message"]

    status, body = await patch(version)  # v1, unquoted
    assert status == 400
    assert body["errors"] == [
        {"field": "If-Match", "problem": f'must be the ETag in quotes, as the GET gave it, e.g. "{version}"'}
    ]
    assert "current ETag" not in body["message"]

    status, body = await patch(f"W/{tag}")
    assert status == 412 and "weak ETag" in body["message"] and tag in body["message"]

    status, body = await patch('"abc"')
    assert status == 412 and body["message"].startswith('"abc" is not an ETag this API gives')

    status, body = await patch('"v99"')
    assert status == 412 and body["current_etag"] == tag
    assert body["message"] == f'there is no version "v99": the current version is {tag}; send the ETag the GET gave'

    for never in ('"v0"', '"v00"'):  # v0 was never issued either: not "changed since you read it"
        status, body = await patch(never)
        assert status == 412 and body["message"].startswith(f"there is no version {never}: "), body

    status, _ = await patch(tag)
    assert status == 200
    status, body = await patch(tag)  # the version read before that change
    new_tag = (await client.get("/providers/12", headers=headers)).headers["etag"]
    assert status == 412 and body["current_etag"] == new_tag != tag
    assert body["message"] == (
        f"this was changed since you read it: you sent {tag}, the current version is {new_tag}; "
        "GET it again, reapply your change and send its ETag"
    )
    assert body["errors"] == [{"field": "If-Match", "problem": body["message"]}]


def test_each_identifier_scheme_example_fits_its_scheme() -> None:
    from marketplace.providers.models import ORG_ID_EXAMPLES, ORG_ID_PATTERNS

    assert set(ORG_ID_EXAMPLES) == set(ORG_ID_PATTERNS)
    for scheme, example in ORG_ID_EXAMPLES.items():
        assert re.match(ORG_ID_PATTERNS[scheme], example), (scheme, example)


async def test_a_malformed_identifier_of_a_known_scheme_gets_its_form(read_client: AsyncTestClient) -> None:
    r = await read_client.post("/registrations", json=registration(identifiers=["GB-COH-123"]))
    assert r.status_code == 422, r.text
    problem = next(p for p in r.json()["errors"] if p["field"] == "identifiers[0]")
    assert problem["problem"] == "'GB-COH-123' is not a valid GB-COH identifier: use the form GB-COH-01234567"


async def test_an_object_that_is_not_one_is_told_its_own_fields_not_another_s_example(
    read_client: AsyncTestClient,
) -> None:
    """An object where a list or a number came is told by its own fields ("{"min_age": 18}" was offered for any)."""
    r = await read_client.post("/registrations", json=["Ledbury Lanterns CIC"])
    assert r.status_code == 400
    assert r.json()["errors"] == [
        {
            "field": "body",
            "problem": "must be a JSON object in braces with this operation's fields, such as name, legal_form, "
            "identifiers; got a list",
        }
    ]
    r = await read_client.post(
        "/registrations", json={"name": "Ledbury Lanterns CIC", "legal_form": "cic", "finances": []}
    )
    assert r.json()["errors"] == [
        {
            "field": "finances",
            "problem": "must be an object in braces with fields such as annual_income, reserves_months, "
            "accounts_year_end; got a list",
        }
    ]


async def test_query_parameters_in_words_with_their_allowed_values(read_client: AsyncTestClient) -> None:
    sort = (await read_client.get("/providers", params={"sort": "nmae"})).json()["errors"][0]
    assert sort["field"] == "sort" and "name" in sort["allowed"] and sort["suggestion"] == "name"
    assert sort["problem"].startswith("'nmae' is not one of the values allowed: ")
    cost = (await read_client.get("/providers", params={"max_cost": "-5"})).json()["errors"][0]
    assert cost == {"field": "max_cost", "problem": "must be 0 or more"}
    for nan in ("NaN", "nan", "-nan"):  # fails every bound; told it is no number, not the first bound it missed
        told = (await read_client.get("/providers", params={"max_cost": nan})).json()["errors"]
        assert told == [{"field": "max_cost", "problem": "must be a number; NaN (not a number) is not one"}], nan
    digits = (await read_client.get("/providers", params={"min_capacity": "-1"})).json()["errors"][0]
    assert digits["problem"] == "must be 0 or more"  # as its bound says it (tests/test_messages.py: page=-1)
    huge = (await read_client.get("/providers", params={"min_capacity": "9" * 20})).json()["errors"][0]
    assert huge["problem"] == f"is too large: at most 15 digits; not '{'9' * 20}'"
    typed = (await read_client.get("/providers", params={"min_capacity": "1e3"})).json()["errors"][0]
    assert typed["problem"] == "must be a whole number written in digits, e.g. 40; not '1e3'"
    pathway = (await read_client.get("/providers", params={"pathway": "accom"})).json()["errors"][0]
    said = (
        "'accom' is not a pathway code: pathway codes are upper case, e.g. ACCOM; did you mean ACCOM (Accommodation)?"
    )
    assert pathway["problem"] == said  # as a body's code field is told it (the README's example)
    area = (await read_client.get("/providers", params={"area": "Telford"})).json()["errors"][0]
    assert area["problem"].startswith("'Telford' is not an area code: areas are ONS GSS codes, e.g. E06000019")
    assert area["suggestion"] == "E06000020"
    known_form = (await read_client.get("/providers", params={"pathway": "NOPE"})).json()["errors"][0]
    assert known_form["problem"].startswith("unknown pathway code 'NOPE'")  # the right form, no such code


async def test_a_tagged_unions_kind_names_the_kinds(client: AsyncTestClient, keys) -> None:
    r = await client.post("/keys", json={"role": "boss", "name": "x"}, headers=await keys.headers("admin"))
    assert r.status_code == 400
    problem = r.json()["errors"][0]
    assert problem["field"] == "role" and sorted(problem["allowed"]) == ["admin", "auditor", "commissioner", "provider"]
    assert problem["problem"].startswith("'boss' is not one of the values allowed: ")


async def test_a_single_value_given_twice_is_refused_not_chosen_silently(read_client: AsyncTestClient) -> None:
    for params in ([("page", "1"), ("page", "2")], [("per_page", "5"), ("per_page", "5")], [("q", "a"), ("q", "b")]):
        r = await read_client.get("/providers", params=params)
        assert r.status_code == 400, r.text
        assert r.json()["errors"] == [{"field": params[0][0], "problem": "give it once: it takes one value"}]
    assert (await read_client.get("/providers", params=[("page", "1")])).status_code == 200


# JSON the decoder cannot read, one of each kind of mistake it tells apart (its words are in msgspec's _core .so:
# `JSON is malformed: <what> (byte n)`, "Input data was truncated", "Number out of range", ...)
UNREADABLE = [
    b"{",
    b'{"name": "x", "b"',
    b'{"a": "\\ud800x"}',
    b'{"a" 1}',
    b'{"a": 1,}',
    b'{"a": [1,]}',
    b'{"a": 1} x',
    b"{a: 1}",
    b'{"a": tru}',
    b'{"a": NaN}',
    b'{"a": "\\q"}',
    b'{"a": "\\u12"}',
    b'{"a": "\\udc00"}',
    b'{"a": 01}',
    b'{"a": [1 2]}',
    b'{"a":1 "b":2}',
    b'{"a": 1e400}',
    b'[{"b": -1e999}]',
]


@pytest.mark.parametrize("body", UNREADABLE)
def test_json_the_decoder_cannot_read_is_told_in_plain_words_and_where(body: bytes) -> None:
    with pytest.raises(msgspec.DecodeError) as raised:
        msgspec.json.decode(body)
    said = messages.unreadable_json(str(raised.value), body)
    assert said is not None, str(raised.value)
    for decoders_word in ("malformed", "truncated", "out of range", "byte", "`", "$", "Input data", "escape character"):
        assert decoders_word not in said.problem, said
    assert said.field != "body" or "near line 1, column" in said.problem or "ends before" in said.problem, said
    assert messages.plain_words(str(raised.value))[0] != str(raised.value)  # nor where only the words are at hand


def test_a_number_too_large_to_read_names_its_field_and_the_rest_where_reading_stopped() -> None:
    def said(body: bytes) -> tuple[str, str] | None:
        try:
            msgspec.json.decode(body)
        except msgspec.DecodeError as exc:
            p = messages.unreadable_json(str(exc), body)
            return (p.field, p.problem) if p else None
        return None

    assert said(b'{"name": "x", "founded_year": 1e400}') == ("founded_year", "is a number too large to read")
    assert said(b'{"services": [{"capacity": -1e999}]}') == ("services[0].capacity", "is a number too large to read")
    assert said(b"[1, 1e400]") == ("body[1]", "is a number too large to read")
    assert said(b"{") == ("body", messages.TRUNCATED)
    assert said(b"  ") == ("body", "is empty: send JSON")
    assert said(b'{\n  "name": "x",\n  "legal_form": cic\n}')[1].startswith(  # type: ignore[index]
        "has a character JSON does not allow near line 3, column 17"
    )
    assert messages.unreadable_json("Expected `int`, got `str`") is None  # not about reading JSON


async def test_a_body_the_decoder_cannot_read_is_a_400_in_plain_words(read_client: AsyncTestClient) -> None:
    json = {"Content-Type": "application/json"}
    r = await read_client.post("/registrations", content=b'{"name": "Big Trust", "founded_year": 1e400}', headers=json)
    assert r.status_code == 400
    assert r.json()["errors"] == [{"field": "founded_year", "problem": "is a number too large to read"}]
    r = await read_client.post("/registrations", content=b'{"name": "Cut Trust"', headers=json)
    assert r.status_code == 400 and "truncated" not in r.text
    assert r.json()["errors"] == [{"field": "body", "problem": messages.TRUNCATED}]
    assert messages.TRUNCATED.startswith("the JSON ends before it is complete")
    r = await read_client.post("/registrations", content=b'{"name": "Comma Trust",}', headers=json)
    assert r.json()["message"] == "body: has a comma after an object's last field near line 1, column 24: remove it"


async def test_no_body_is_said_so_where_one_is_needed_and_not_at_all_where_it_is_not(
    client: AsyncTestClient, keys
) -> None:
    """A request with no body at all was told "body: 'data'" (the framework's KeyError), even beside another problem
    on an operation whose body is optional."""
    provider = {**(await keys.headers("provider", 12)), "If-Match": '"v1"', "Content-Type": "application/json"}
    r = await client.patch("/providers/12", headers=provider)
    assert r.status_code == 400
    assert r.json()["errors"] == [
        {"field": "body", "problem": "required: this operation takes a JSON body (Content-Type: application/json)"}
    ]
    commissioner = await keys.headers("commissioner")
    r = await client.post("/needs/1/match-runs?limit=501", headers=commissioner)  # the body (weights) is optional
    assert r.status_code == 400
    assert r.json()["errors"] == [{"field": "limit", "problem": "must be 500 or less"}]
    r = await client.post("/exercises", headers=commissioner)
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "body"
    assert "'data'" not in r.text


async def test_every_error_body_has_the_documented_shape(client: AsyncTestClient, keys) -> None:
    """`errors` is always there (`[]` when the error is about no field): 403, 404 and 409 bodies had none."""
    provider = await keys.headers("provider", 12)
    answers = [
        await client.get("/providers/999999"),
        await client.get("/providers/13/history", headers=provider),
        await client.get("/audit"),
        await client.post(
            "/imports", content=b"a", headers={**(await keys.headers("admin")), "Content-Type": "image/png"}
        ),
    ]
    assert [r.status_code for r in answers] == [404, 403, 401, 415]
    for r in answers:
        body = r.json()
        assert set(body) >= {"status", "error", "message", "errors"} and body["status"] == r.status_code, body
        assert body["errors"] == []
    schema = (await client.get("/schema/openapi.json")).json()["components"]["schemas"]["ErrorBody"]
    assert set(schema["required"]) == {"status", "error", "message", "errors"}


async def test_half_a_character_and_a_whole_number_too_large_are_told_as_what_they_are(
    client: AsyncTestClient, keys
) -> None:
    """A lone surrogate escape was told as JSON that "ends before it is complete" (the decoder's word for it), and
    1e20 for a whole number as "must be a whole number ... got a number"."""
    headers = {**(await keys.headers("provider", 12)), "If-Match": '"v1"', "Content-Type": "application/json"}
    r = await client.patch("/providers/12", content=b'{"description": "x \\ud800"}', headers=headers)
    assert r.status_code == 400
    [problem] = r.json()["errors"]
    assert problem["field"] == "description"  # the field holding it
    assert problem["problem"].startswith("has \\ud800 near line 1, column 20, half of a")
    assert messages.unreadable_json("Input data was truncated", b'{"d": "\\ud83d\\ude00"') == FieldProblem(
        field="body", problem=messages.TRUNCATED
    ), "a whole pair of halves is a character: that JSON is cut short"
    r = await client.patch("/providers/12", json={"finances": {"annual_income": 1e20}}, headers=headers)
    assert r.status_code == 400
    [problem] = r.json()["errors"]
    assert problem["field"] == "finances.annual_income" and "whole number" not in problem["problem"], problem
    assert "at most" in problem["problem"] or "or less" in problem["problem"], problem


async def test_text_direction_overrides_are_refused_in_free_text_as_in_names(client: AsyncTestClient, keys) -> None:
    """A right-to-left override in a description was stored, and reordered what a report showed after it."""
    headers = {**(await keys.headers("provider", 12)), "If-Match": '"v1"'}
    before = (await client.get("/providers/12")).json()
    r = await client.patch("/providers/12", json={"description": "Café \u202eevil\u202c text"}, headers=headers)
    assert r.status_code == 400
    assert r.json()["errors"][0]["field"] == "description"
    assert "text-direction characters" in r.json()["errors"][0]["problem"]
    assert (await client.get("/providers/12")).json() == before
    r = await client.patch("/providers/12", json={"description": "Café: tabs\tand\nnew lines"}, headers=headers)
    assert r.status_code == 200, r.text


async def test_a_number_query_parameter_is_told_its_bounds_not_an_example_outside_them(read_client, read_keys) -> None:
    """threshold=high was told "must be a number, e.g. 12.5": 12.5 is no threshold."""
    h = await read_keys.headers("commissioner")
    r = await read_client.get("/exercises/1/report", params={"threshold": "high"}, headers=h)
    assert r.status_code == 400
    assert r.json()["errors"] == [{"field": "threshold", "problem": "must be a number from 0 to 1; got text"}]


async def test_an_address_with_no_route_says_so_in_words(read_client) -> None:
    """/providers/abc was a bare "Not Found" (an id that is no number matches no route)."""
    r = await read_client.get("/providers/abc")
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    assert r.json()["message"] == (
        "nothing is at /providers/abc (the API's addresses, with whole-number ids: /schema/swagger)"
    )


async def test_a_byte_order_mark_before_the_json_is_named(read_client) -> None:
    """An invisible mark before the JSON was told "has a character JSON does not allow near line 1, column 1"."""
    r = await read_client.post(
        "/registrations",
        content=b'\xef\xbb\xbf{"name": "Marked Trust", "legal_form": "cic"}',
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 400
    assert r.json()["errors"] == [{"field": "body", "problem": messages.BYTE_ORDER_MARK}]


async def test_a_field_given_twice_is_refused_not_resolved_silently(read_client, read_db) -> None:
    """{"name": "First", "name": "Second"} was taken as "Second" with nothing said; nothing is stored now."""
    for body, field in (
        (b'{"name": "First Light CIC", "legal_form": "cic", "name": "Second Light CIC"}', "name"),
        (
            b'{"name": "Third Light CIC", "legal_form": "cic", "contact": {"email": "a@b.org", "email": "c@d.org"}}',
            "contact.email",
        ),
        (
            b'{"name": "Fourth Light CIC", "legal_form": "cic", "services": [{"pathway": "ETE", "name": "Jobs", '
            b'"description": "Jobs club.", "cohorts": ["ADULTS"], "areas": ["E06000019"], "name": "Work"}]}',
            "services[0].name",
        ),
    ):
        r = await read_client.post("/registrations", content=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 400, r.text
        (problem,) = r.json()["errors"]
        assert problem["field"] == field and problem["problem"].startswith("given twice in one object")
    assert await fetchval(read_db, "select count(*) from provider where name like '% Light CIC'") == 0


async def test_half_a_character_is_told_in_plain_words_however_it_is_followed(client: AsyncTestClient, keys) -> None:
    """A lone high surrogate followed by anything but an escape ("\\ud800 hello") was told in the decoder's words:
    "JSON is malformed: unexpected end of escaped utf-16 surrogate pair (byte 16)"; now each form is told which
    escape, where, and the field holding it."""
    commissioner = {**(await keys.headers("commissioner")), "Content-Type": "application/json"}
    provider = {**(await keys.headers("provider", 12)), "If-Match": '"v1"', "Content-Type": "application/json"}
    for path, headers, body, field, column in (
        ("/exercises", commissioner, rb'{"title":"\ud800 hello","commissioning_body":"b"}', "title", 11),
        ("/exercises", commissioner, rb'{"title":"\ud800","commissioning_body":"b"}', "title", 11),
        ("/exercises", commissioner, rb'{"title":"\udc00x","commissioning_body":"b"}', "title", 11),
        ("/exercises", commissioner, rb'{"title":"\ud800\u0041","commissioning_body":"b"}', "title", 11),
        ("/exercises", commissioner, rb'{"commissioning_body":"b","title":"ok \ud800\ud800"}', "title", 39),
        ("/providers/12", provider, rb'{"name": "\ud800 Trust"}', "name", 11),
        ("/providers/12", provider, rb'{"identifiers": ["\ud800 x"]}', "identifiers[0]", 19),
        ("/providers/12", provider, rb'{"description": "\ud800', "body", 18),  # cut short too: no field to name
    ):
        method = client.patch if path.startswith("/providers") else client.post
        r = await method(path, content=body, headers=headers)
        assert r.status_code == 400, (body, r.text)
        [problem] = r.json()["errors"]
        escape = body.decode()[column - 1 : column + 5]
        assert problem == {
            "field": field,
            "problem": messages.LONE_SURROGATE.format(escape=escape, at=f" near line 1, column {column}"),
        }, (body, problem)
        assert r.json()["message"] == f"{field}: {problem['problem']}"
    assert (await client.get("/exercises", headers=commissioner)).json()["total"] == 1  # the sample alone


async def test_a_list_fields_example_is_of_its_own_kind(client: AsyncTestClient, keys) -> None:
    """identifiers: null was told 'must be a list in square brackets, e.g. ["ADULTS"]', a cohort code."""
    headers = {**(await keys.headers("provider", 12)), "If-Match": '"v1"'}
    said = {}
    for body in ({"identifiers": None}, {"identifiers": [5]}, {"resources": {"other_funding_sources": "rent"}}):
        r = await client.patch("/providers/12", json=body, headers=headers)
        assert r.status_code == 400, r.text
        [problem] = r.json()["errors"]
        said[problem["field"]] = problem["problem"]
    assert said == {
        "identifiers": 'must be a list in square brackets, e.g. ["GB-CHC-1234567"]; got null',
        "identifiers[0]": 'must be text in double quotes, e.g. "GB-CHC-1234567"; got a whole number',
        "resources.other_funding_sources": 'must be a list in square brackets, e.g. ["Weekly jobs club"]; got text',
    }
    commissioner = await keys.headers("commissioner")
    need = {"title": "T", "pathway": "ACCOM", "areas": ["E06000019"], "annual_volume": 5, "annual_budget": 9}
    r = await client.post("/exercises/1/needs", json={**need, "local_priorities": "housing"}, headers=commissioner)
    assert r.status_code == 400
    assert r.json()["errors"] == [
        {
            "field": "local_priorities",
            "problem": "must be a list in square brackets of objects in braces with fields such as text, weight; "
            "got text",
        }
    ]
    weighed = {**need, "local_priorities": [{"text": "housing", "weight": "high"}]}
    r = await client.post("/exercises/1/needs", json=weighed, headers=commissioner)
    assert r.status_code == 400  # its bound is more than 0, not 0 or more: a weight of 0 would be refused
    assert r.json()["errors"] == [
        {"field": "local_priorities[0].weight", "problem": "must be a number more than 0, up to 100; got text"}
    ]
    registration = {
        "name": "Ledbury Lanterns CIC",
        "legal_form": "cic",
        "services": [{**SERVICE, "delivery_modes": "x"}],
    }
    r = await client.post("/registrations", json=registration)
    assert r.status_code == 400
    [problem] = r.json()["errors"]
    assert problem["problem"].startswith('must be a list in square brackets, e.g. ["') and "ADULTS" not in problem


def _asgi(
    client: AsyncTestClient,
    method: str,
    path: str,
    *,
    query: bytes = b"",
    headers: Sequence[tuple[bytes, bytes]] = (),
    body: bytes = b"",
) -> tuple[int, Any]:
    """A request as a server hands it to the app, byte for byte (the test client percent-encodes a query and joins
    header lines), sent as the test client sends one (on its event loop): its status and JSON body (another body as
    its bytes)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query,
        "headers": [(b"host", b"testserver"), (b"content-length", str(len(body)).encode()), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    received, sent = [{"type": "http.request", "body": body, "more_body": False}], []

    async def receive() -> dict[str, Any]:
        return received.pop(0) if received else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    client.blocking_portal.call(client.app, scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    answer = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    media = dict(start["headers"]).get(b"content-type", b"")
    if not answer or not media.startswith(b"application/json"):  # a page (text/html), or nothing: as sent
        return start["status"], answer or None
    return start["status"], msgspec.json.decode(answer)


async def test_query_text_sent_unencoded_is_read_as_utf8(read_client: AsyncTestClient) -> None:
    """`?min_capacity=١٢` sent as typed (not percent-encoded) was echoed as "not 'Ù¡Ù¢'" (read as Latin-1)."""
    status, body = _asgi(read_client, "GET", "/providers", query="min_capacity=١٢".encode())
    assert status == 400
    assert body["errors"] == [
        {"field": "min_capacity", "problem": "must be a whole number written in digits, e.g. 40; not '١٢'"}
    ]
    status, body = _asgi(read_client, "GET", "/providers", query="q=Café&per_page=1".encode())
    encoded = (await read_client.get("/providers", params={"q": "Café", "per_page": 1})).json()
    assert status == 200 and body == encoded  # the same search as the percent-encoded one


async def test_several_if_match_lines_are_one_list(client: AsyncTestClient, keys) -> None:
    """`If-Match: "v1"` and `If-Match: <current>` on two lines was a 412 naming "v1"; in one line, a 200."""
    auth = await keys.headers("provider", 12)
    headers = {**auth, "If-Match": '"v1"'}
    changed = await client.patch("/providers/12", json={"website": "https://example.org/one"}, headers=headers)
    assert changed.status_code == 200
    current = (await client.get("/providers/12", headers=auth)).headers["etag"]
    assert current == '"v2"'
    lines = [(b"authorization", auth["Authorization"].encode()), (b"content-type", b"application/json")]

    def patch(*tags: bytes) -> tuple[int, Any]:
        tagged = [*lines, *((b"if-match", t) for t in tags)]
        return _asgi(client, "PATCH", "/providers/12", headers=tagged, body=next(websites))

    websites = iter(b'{"website": "https://example.org/%d"}' % i for i in range(2, 4))

    status, answer = patch(b'"v1"', current.encode())
    assert status == 200, answer
    status, answer = patch(b'"v1"', b'"v2"')  # both stale now: the message names both, as one line would
    assert status == 412 and answer["message"].startswith('this was changed since you read it: you sent "v1", "v2"')


async def test_a_number_below_a_query_parameters_least_is_told_one_way(read_client: AsyncTestClient, read_keys) -> None:
    """page=-1 was told "must be a whole number of 0 or more" and page=0 "must be 1 or more": one rule, two
    messages (the first wrong: 0 is too few too). -0 is 0."""
    for path in ("/providers", "/hsds/services", "/audit"):
        headers = await read_keys.headers("admin")
        for page in ("-1", "0", "-0", "-12"):
            r = await read_client.get(path, params={"page": page}, headers=headers)
            assert r.status_code == 400, (path, page)
            assert r.json()["errors"] == [{"field": "page", "problem": "must be 1 or more"}], (path, page)
    r = await read_client.get("/providers", params={"min_capacity": "-0"})
    assert r.status_code == 200 and r.json()["total"] > 0


async def test_a_403_lists_the_auditor_where_it_may_read(read_client: AsyncTestClient, read_keys) -> None:
    """A provider key on GET /audit was told "allowed: admin", though an auditor may read it too."""
    provider = await read_keys.headers("provider", 12)
    for path, allowed in (
        ("/audit", "admin, auditor"),
        ("/changes", "admin, auditor"),
        ("/keys", "admin, auditor"),
        ("/exercises", "admin, commissioner, auditor"),
    ):
        r = await read_client.get(path, headers=provider)
        assert r.status_code == 403
        assert r.json()["message"] == f"the provider role may not do this; allowed: {allowed}", path
    r = await read_client.post("/exercises", json={"title": "T", "commissioning_body": "B"}, headers=provider)
    assert r.status_code == 403  # a change: the auditor is not among those who may
    assert r.json()["message"] == "the provider role may not do this; allowed: admin, commissioner"
