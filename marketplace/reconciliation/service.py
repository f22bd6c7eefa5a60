"""Reconciliation (W3C Entity Reconciliation API 0.2, as OpenRefine 3.x speaks it) against the published directory.

A query batch is `{"q0": {"query": "Severn Housing Trust", "type": "organisation", "limit": 3, "properties":
[{"pid": "charity_number", "v": "1000002"}, {"pid": "area", "v": "Worcestershire"}]}, ...}`. Each query's
candidates are the published providers
- holding an identifier a property names (`org_id`, `charity_number`, `company_number`; a bare registered number
  is read as the org-id it stands for): decisive, score 100 and `match: true` when exactly one provider is hit;
- whose name is like the query's (scoring.py), among those covering the `area` property's area when given (a GSS
  code or an area's name; an area we do not know narrows to nothing): the 50 most alike, looked up in this
  worker's search index (providers.service.similar_names, kept exact against the database), then scored.
Sorted by score (best first, then by name); `match: true` only for a clear winner (scoring.is_clear_winner) or the
one identifier hit. A `type` that is not ours ("organisation") gets no candidates.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

import msgspec

from marketplace import messages
from marketplace.context import Context
from marketplace.db import Connection
from marketplace.errors import FieldProblem, InvalidInput, NotFound, Unprocessable
from marketplace.http import GIVEN_TWICE, key_given_twice
from marketplace.providers import service as providers
from marketplace.providers.live_index import LiveIndex
from marketplace.reconciliation import queries, scoring
from marketplace.reconciliation.models import (
    Candidate,
    EntitySuggestion,
    EntitySuggestions,
    EntityValue,
    Feature,
    Manifest,
    Preview,
    PropertyDoc,
    PropertySuggestion,
    PropertySuggestions,
    PropertyValue,
    QueryBatch,
    QueryResult,
    ReconQuery,
    Suggest,
    SuggestService,
    TypeRef,
    TypeSuggestions,
    UrlTemplate,
)
from marketplace.taxonomy.models import Taxonomy
from marketplace.templating import render
from marketplace.types import fold

PREFIX = "/reconcile"
ORGANISATION = TypeRef(id="organisation", name="Organisation")
TYPES = [ORGANISATION]
PROPERTIES = [
    PropertyDoc(
        id="org_id",
        name="Org-id",
        description="An org-id (org-id.guide), e.g. GB-CHC-1234567 or GB-COH-01234567; a bare number is tried as a "
        "charity, company, Scottish or Northern Irish charity and mutual society number. Decisive.",
    ),
    PropertyDoc(
        id="charity_number",
        name="Charity number",
        description="A registered charity number: 1234567 (England and Wales), SC012345 (Scotland), NIC100001 "
        "(Northern Ireland), or its org-id. Decisive.",
    ),
    PropertyDoc(
        id="company_number",
        name="Company number",
        description="A Companies House number (01234567, SC123456; leading zeros may be left out), or its org-id. "
        "Decisive.",
    ),
    PropertyDoc(
        id="area",
        name="Area",
        description="An area the organisation works in: an ONS GSS code (E10000034) or an area's name "
        "(Worcestershire). Narrows the candidates; an area not in the directory narrows to none.",
    ),
]
PROPERTY_IDS = [p.id for p in PROPERTIES]
IDENTIFIER_PROPERTIES = ("org_id", "charity_number", "company_number")
BATCH_SIZE = 10
"""What the manifest asks OpenRefine to send at once."""
MAX_BATCH = 100
"""The most queries one request may carry."""
DEFAULT_LIMIT = 10
MAX_LIMIT = 100
CANDIDATES = 50
"""Names looked up per query (most alike first: providers.similar_names) before they are scored."""
CATCH_UP_ROUNDS = 3
"""How many times a batch is looked up again when the directory changed since the search index's snapshot."""
MATCH_RULE = (
    f"match is true for one candidate only: the one provider an identifier property (org_id, charity_number, "
    f"company_number) names, or else a clear winner on the name: a score of at least {scoring.MATCH_SCORE:g} "
    f"and at least {scoring.MATCH_GAP:g} ahead of the next candidate, whose name states no legal form (Ltd, CIC, "
    "CIO, PLC, LLP) other than the query's and whose recorded legal form cannot be contradicted by the one the "
    "query states (a CIO is never a CIC; feature legal_form_clash)"
)
PREVIEW_WIDTH, PREVIEW_HEIGHT = 400, 200

ORG_ID = re.compile(r"GB-(CHC|COH|MPR|SC|NIC|GOR|LAE|NHS)-[A-Z0-9-]{2,20}")
_SPACES = re.compile(r"[\s.]+")


def manifest(base_url: str) -> Manifest:
    def service(path: str) -> SuggestService:
        return SuggestService(service_url=base_url, service_path=f"{PREFIX}/suggest/{path}")

    return Manifest(
        versions=["0.2"],
        name="Provision: UK reducing-reoffending providers",
        identifierSpace=f"{base_url}/providers/",
        schemaSpace=f"{base_url}/reconcile/schema",
        documentation=f"{base_url}/schema/swagger",
        view=UrlTemplate(url=f"{base_url}/providers/{{{{id}}}}"),
        preview=Preview(url=f"{base_url}{PREFIX}/preview?id={{{{id}}}}", width=PREVIEW_WIDTH, height=PREVIEW_HEIGHT),
        suggest=Suggest(entity=service("entity"), type=service("type"), property=service("property")),
        defaultTypes=TYPES,
        batchSize=BATCH_SIZE,
        properties=PROPERTIES,
        match_rule=MATCH_RULE,
    )


# --- reading a batch ------------------------------------------------------------------------------------------


def _problem(field: str, problem: str, *, allowed: Sequence[str | int] | None = None) -> Unprocessable:
    return Unprocessable(f"{field}: {problem}", problems=[FieldProblem(field=field, problem=problem, allowed=allowed)])


def _msgspec_problem(prefix: str, exc: msgspec.ValidationError, query: msgspec.Raw) -> Unprocessable:
    """The decoder's problem with one query (`query`, at `prefix`) in plain words (marketplace.messages)."""
    if (unreadable := messages.unreadable_json(str(exc), bytes(query), field=prefix)) is not None:
        return _problem(unreadable.field, unreadable.problem)  # a number too large to read
    message, _, path = str(exc).partition(" - at `$")
    path = path.rstrip("`")
    missing = re.match(r"Object missing required field `(.+)`", message)
    if missing:
        return _problem(f"{prefix}{path}.{missing.group(1)}", "required")
    unknown = re.match(r"Object contains unknown field `(.+)`", message)
    if unknown:
        return _problem(f"{prefix}{path}.{unknown.group(1)}", "unknown field")
    inside = path.lstrip(".")
    value = messages.value_at(messages.decoded(bytes(query)), inside)
    said = messages.problem(prefix + path, message, value=value, declared=ReconQuery, path=inside)
    return _problem(said.field, said.problem, allowed=said.allowed)


def queries_as_sent(encoded: bytes) -> str | None:
    """`queries` in a form-encoded body, its bytes (percent-encoded or not, `+` a space) read as UTF-8, as the form
    encoding says. The framework reads a form body as Latin-1 (a raw UTF-8 é became "Ã©") and percent-encoded bytes
    that are not UTF-8 as U+FFFD: either way a query became other text, matched as such. So bytes that are not UTF-8
    (é as Latin-1's E9) are a 400 naming `queries`. None when it is not given (the framework has said whether it must
    be). (A query string's parameters, GET's `queries` too, are read so before any handler: marketplace.http.)"""
    found = None
    for part in encoded.split(b"&"):
        key, _, value = part.partition(b"=")
        if unquote_to_bytes(key.replace(b"+", b" ")) != b"queries":
            continue
        try:
            found = unquote_to_bytes(value.replace(b"+", b" ")).decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput.field("queries", messages.not_utf8("body")) from None
    return found


def parse_batch(text: str) -> QueryBatch:
    """The `queries` parameter, read as the 0.2 query batch schema says (422 naming the field otherwise): a query or
    a query's field given twice (`queries.q0`, `queries.q0.query`) too, found as every JSON body's are
    (marketplace.http), not read as the last one."""
    try:
        raw = msgspec.json.decode(text, type=dict[str, msgspec.Raw])
    except msgspec.ValidationError:
        raise _problem("queries", "must be a JSON object of queries (q0, q1, ...)") from None
    except msgspec.DecodeError as exc:  # what is wrong, and where, in plain words
        unreadable = messages.unreadable_json(str(exc), text, field="queries")
        raise _problem("queries", unreadable.problem if unreadable else "is not valid JSON") from None
    if (twice := key_given_twice(text.encode())) is not None:  # the decoder keeps the last, silently
        raise _problem(f"queries.{twice}", GIVEN_TWICE)
    if len(raw) > MAX_BATCH:
        raise _problem("queries", f"at most {MAX_BATCH} queries in a batch, not {len(raw)}")
    batch: QueryBatch = {}
    for key, value in raw.items():
        field = f"queries.{key}"
        try:
            q = msgspec.json.decode(value, type=ReconQuery)
        except msgspec.ValidationError as exc:
            raise _msgspec_problem(field, exc, value) from None
        if q.query is msgspec.UNSET and not q.properties:
            raise _problem(field, "needs a query, or properties (at least one)")
        if q.limit is not msgspec.UNSET and (not 1 <= q.limit <= MAX_LIMIT or q.limit != int(q.limit)):
            raise _problem(f"{field}.limit", f"must be a whole number from 1 to {MAX_LIMIT}")
        for i, prop in enumerate(q.properties or []):
            if prop.pid not in PROPERTY_IDS:
                raise _problem(f"{field}.properties[{i}].pid", f"unknown property {prop.pid!r}", allowed=PROPERTY_IDS)
        batch[key] = q
    return batch


# --- property values --------------------------------------------------------------------------------------------


def _values(prop: PropertyValue) -> list[str]:
    items = prop.v if isinstance(prop.v, list) else [prop.v]
    out = []
    for item in items:
        if isinstance(item, EntityValue):
            out.append(item.id)
        elif isinstance(item, bool):
            continue
        elif isinstance(item, float):
            out.append(str(int(item)) if item.is_integer() else str(item))
        else:
            out.append(item)
    return [v.strip() for v in out if v.strip()]


def identifiers_for(pid: str, value: str) -> list[str]:
    """The org-ids a property value may stand for (none when it cannot be one)."""
    v = _SPACES.sub("", value).upper()
    if ORG_ID.fullmatch(v):
        return [v]
    if not re.fullmatch(r"[A-Z0-9]{1,20}", v):
        return []
    digits = v.isdigit()
    if pid == "charity_number":
        if v.startswith("SC"):
            return [f"GB-SC-{v}"]
        if v.startswith("NIC"):
            return [f"GB-NIC-{v[3:]}"]
        return [f"GB-CHC-{int(v)}"] if digits else []
    if pid == "company_number":
        return [f"GB-COH-{v.zfill(8)}"] if digits or re.fullmatch(r"[A-Z]{2}[0-9]{1,6}", v) else []
    # org_id given as a bare number: whatever register it may be in
    found = [f"GB-SC-{v}"] if v.startswith("SC") else [f"GB-NIC-{v[3:]}"] if v.startswith("NIC") else []
    if digits:
        found += [f"GB-CHC-{int(v)}", f"GB-COH-{v.zfill(8)}", f"GB-NIC-{v}"]
    elif re.fullmatch(r"[A-Z]{2}[0-9]{1,6}", v):
        found.append(f"GB-COH-{v.zfill(8)}")
    found.append(f"GB-MPR-{v}")
    return [f for f in dict.fromkeys(found) if ORG_ID.fullmatch(f)]


def resolve_area(tax: Taxonomy, value: str) -> str | None:
    """An area's code from its GSS code or its name (case, accents and a leading "the" ignored)."""
    codes = tax.codes("areas")
    if value.upper() in codes:
        return value.upper()
    wanted = " ".join(scoring.words(value))
    return next((code for code, name in codes.items() if " ".join(scoring.words(name)) == wanted), None)


# --- reconciling ----------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Scored:
    row: queries.CandidateRow
    name_score: float
    identifier: bool
    clash: tuple[str, str] | None = None
    """The legal forms the query's name and the candidate's state, when they contradict (scoring.legal_form_clash)."""

    @property
    def score(self) -> float:
        return 100.0 if self.identifier else self.name_score


def _wants_our_type(q: ReconQuery) -> bool:
    if q.type is msgspec.UNSET:
        return True
    types = [q.type] if isinstance(q.type, str) else q.type
    return not types or ORGANISATION.id in types


def _description(tax: Taxonomy, row: queries.CandidateRow) -> str:
    form = tax.codes("legal_forms").get(row.legal_form, row.legal_form)
    return " · ".join([form, *row.identifiers])


FORM_NAMES = {"ltd": "Ltd", "cic": "CIC", "cio": "CIO", "plc": "PLC", "llp": "LLP"}


RECORDED = "recorded"
"""A clash's second part when it is the candidate's recorded legal form, not its name, that contradicts the query."""


def _clash_note(clash: tuple[str, str] | None, tax: Taxonomy, row: queries.CandidateRow) -> str:
    """What a candidate's description adds when its name, or its recorded legal form, states another legal form than
    the query's."""
    if clash is None:
        return ""
    asked, named = (", ".join(FORM_NAMES.get(f, f) for f in forms.split(", ")) for forms in clash)
    if clash[1] == RECORDED:
        form = tax.codes("legal_forms").get(row.legal_form, row.legal_form)
        return f" · not a match: its recorded legal form is {form}, the query says {asked} (another legal entity)"
    return f" · not a match: the name says {named}, the query {asked} (another legal entity)"


@dataclass(frozen=True, slots=True)
class _Asked:
    """What a query asks of the directory."""

    query: ReconQuery
    identifiers: list[str]
    key: scoring.NameKey | None
    texts: list[str]
    """What to look the name up by (scoring.retrieval_texts); none when the name is not to be looked up."""
    areas: list[str]


def _asked(ctx: Context, q: ReconQuery) -> _Asked:
    if not _wants_our_type(q):
        return _Asked(q, [], None, [], [])
    identifiers: list[str] = []
    areas: list[str] = []
    area_asked = False
    for prop in q.properties or []:
        values = _values(prop)
        if prop.pid in IDENTIFIER_PROPERTIES:
            identifiers += [i for v in values for i in identifiers_for(prop.pid, v)]
        elif prop.pid == "area":
            area_asked = area_asked or bool(values)
            areas += [code for v in values if (code := resolve_area(ctx.taxonomy, v)) is not None]
    text = q.query.replace("\x00", " ").strip() if isinstance(q.query, str) else ""
    key = scoring.name_key(text) if text else None
    by_name = key is not None and (bool(areas) or not area_asked)  # an area we do not know narrows to nothing
    texts = scoring.retrieval_texts(text) if by_name else []
    return _Asked(q, list(dict.fromkeys(identifiers)), key, texts, list(dict.fromkeys(areas)))


async def _answer(ctx: Context, conn: Connection, asked: _Asked, named: list[queries.CandidateRow]) -> QueryResult:
    """A query's candidates: the providers its identifiers name, and `named` (its name's candidates), scored."""
    key = asked.key
    found: dict[int, _Scored] = {}
    if asked.identifiers:
        for row in await queries.by_identifiers(conn, asked.identifiers):
            name_score = scoring.score(key, scoring.name_key(row.name)) if key else 0.0
            found[row.id] = _Scored(row, name_score, identifier=True)
    if key is not None:
        for row in named:
            if row.id not in found:
                found[row.id] = _Scored(row, scoring.score(key, scoring.name_key(row.name)), identifier=False)
        for s in found.values():
            s.clash = scoring.legal_form_clash(key, scoring.name_key(s.row.name))
            if s.clash is None and (asked_form := scoring.recorded_form_clash(key, s.row.legal_form)) is not None:
                s.clash = (asked_form, RECORDED)
    ranked = sorted(
        found.values(), key=lambda s: (-s.score, not s.identifier, -s.name_score, fold(s.row.name), s.row.id)
    )
    hits = [s for s in ranked if s.identifier]
    if hits:
        winner = hits[0].row.id if len(hits) == 1 else None
    else:
        clear = scoring.is_clear_winner([s.score for s in ranked])
        # a contradicting legal form is another organisation: a candidate still, never the match
        winner = ranked[0].row.id if clear and ranked[0].clash is None else None
    q = asked.query
    limit = int(q.limit) if isinstance(q.limit, float) else DEFAULT_LIMIT
    return QueryResult(
        result=[
            Candidate(
                id=str(s.row.id),
                name=s.row.name,
                score=s.score,
                match=s.row.id == winner,
                description=_description(ctx.taxonomy, s.row) + _clash_note(s.clash, ctx.taxonomy, s.row),
                type=TYPES,
                features=[
                    Feature(id="name_similarity", value=s.name_score),
                    Feature(id="identifier_match", value=s.identifier),
                    Feature(id="legal_form_clash", value=s.clash is not None),
                ],
            )
            for s in ranked[:limit]
        ]
    )


async def reconcile(ctx: Context, conn: Connection, live: LiveIndex, batch: QueryBatch) -> dict[str, QueryResult]:
    """Every query of the batch against one snapshot of the directory. Names are looked up in this process's
    search index, the whole batch at one moment (nothing else runs in this process meanwhile); then one read-only
    transaction checks that no provider was written since the index's snapshot and reads the rows found and the
    identifiers' providers, so it sees the directory as the index did. When a provider was written since, the index
    takes it in and the batch is looked up again (at most CATCH_UP_ROUNDS times: under a stream of writes the last
    round answers with the rows as they are by then)."""
    asked = {key: _asked(ctx, q) for key, q in batch.items()}
    for attempt in range(CATCH_UP_ROUNDS + 1):
        snapshot = live.snapshot
        named = {
            key: providers.similar_names(live, a.texts, a.areas, CANDIDATES) if a.texts else []
            for key, a in asked.items()
        }
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            stale = attempt < CATCH_UP_ROUNDS and await queries.changed_since(conn, snapshot)
            if not stale:
                rows = await queries.by_ids(conn, sorted({i for ids in named.values() for i in ids}))
                return {
                    key: await _answer(ctx, conn, a, [rows[i] for i in named[key] if i in rows])
                    for key, a in asked.items()
                }
        if live.snapshot == snapshot:  # no other request has brought the index up to date meanwhile
            await live.catch_up(conn)
    raise AssertionError("the last round answers")


# --- suggest and preview --------------------------------------------------------------------------------------


async def suggest_entities(
    ctx: Context, conn: Connection, live: LiveIndex, prefix: str, limit: int, cursor: int
) -> EntitySuggestions:
    """Published providers whose name holds the text (those starting with it first, then by name), looked up in
    this process's search index, brought up to date first."""
    text = prefix.replace("\x00", " ").strip()
    if not text:
        return EntitySuggestions(result=[])
    if await queries.changed_since(conn, live.snapshot):
        await live.catch_up(conn)
    ids = providers.names_holding(live, text, cursor, limit)
    rows = await queries.by_ids(conn, ids)
    return EntitySuggestions(
        result=[
            EntitySuggestion(id=str(r.id), name=r.name, description=_description(ctx.taxonomy, r), notable=TYPES)
            for i in ids
            if (r := rows.get(i)) is not None
        ]
    )


def _starts(prefix: str, *texts: str) -> bool:
    wanted = fold(prefix.strip())
    return any(fold(t).startswith(wanted) or wanted in fold(t) for t in texts)


def suggest_types(prefix: str, limit: int, cursor: int) -> TypeSuggestions:
    """The types whose id or name holds the text, `limit` of them after the first `cursor` (as every suggest
    service pages)."""
    found = [t for t in TYPES if _starts(prefix, t.id, t.name)]
    return TypeSuggestions(result=found[cursor : cursor + limit])


def suggest_properties(prefix: str, limit: int, cursor: int) -> PropertySuggestions:
    """The properties whose id or name holds the text, `limit` of them after the first `cursor`."""
    found = [p for p in PROPERTIES if _starts(prefix, p.id, p.name)][cursor : cursor + limit]
    return PropertySuggestions(
        result=[PropertySuggestion(id=p.id, name=p.name, description=p.description) for p in found]
    )


async def preview(ctx: Context, conn: Connection, base_url: str, provider_id: int) -> str:
    """A small HTML fragment about a published provider, for OpenRefine's preview pane."""
    row = await queries.preview(conn, provider_id)
    if row is None:
        raise NotFound(f"no published provider {provider_id}")
    tax = ctx.taxonomy
    return render(
        "reconciliation/preview.html.j2",
        provider=row,
        legal_form=tax.codes("legal_forms").get(row.legal_form, row.legal_form),
        pathways=[tax.codes("pathways").get(c, c) for c in row.pathways],
        areas=[tax.codes("areas").get(c, c) for c in row.areas],
        profile_url=f"{base_url}/providers/{row.id}",
        width=PREVIEW_WIDTH,
        height=PREVIEW_HEIGHT,
    )
