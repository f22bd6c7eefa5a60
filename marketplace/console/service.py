"""The console's use cases: sessions, shortlists, comparisons, and turning a form into the API's own change.

Every page acts through the other rooms' services, with the permission checks their routes make (`admit`), as the
caller the session's API key names; nothing here reads or writes another room's tables."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar, cast, get_args

import msgspec

import matching
from marketplace import audit, formatting, messages
from marketplace.accounts import service as accounts
from marketplace.accounts.auth import STAFF, admit
from marketplace.accounts.models import RECORD_ID, ApiKey, RecordTable
from marketplace.appraisals import service as appraisals
from marketplace.appraisals.models import COST_LABELS, MODEL_LABELS, Appraisal, AppraisalIn
from marketplace.audit import AuditEntry
from marketplace.console import appraisal_forms, forms, queries
from marketplace.console.models import (
    AuditRow,
    AuditView,
    Change,
    ChangeRow,
    ChangesView,
    Column,
    Comparison,
    FieldRow,
    FormState,
    Meant,
    Session,
    ShortlistEntry,
    Shown,
    Who,
)
from marketplace.context import Context
from marketplace.db import Connection, Pool
from marketplace.engagement import service as engagement
from marketplace.engagement.models import BARRIERS, Notice, Response
from marketplace.errors import FieldProblem, InvalidInput, NotFound, Unprocessable
from marketplace.exercises import service as exercises
from marketplace.exercises.models import Exercise, MatchRun, Need, in_force, percentages_of, weights_now
from marketplace.formatting import shorten
from marketplace.providers import service as providers
from marketplace.providers.live_index import LiveIndex
from marketplace.providers.models import Provider
from marketplace.reconciliation import service as reconciliation
from marketplace.reconciliation.models import ReconQuery
from marketplace.types import PLAIN, Actor, Caller, fold, project
from matching.weights import effective_weights

SESSION_IDLE = dt.timedelta(hours=8)
"""A session unused this long is over (signed out)."""
MAX_COMPARED = 4


def _hash(session_id: str) -> bytes:
    return hashlib.sha256(session_id.encode()).digest()


# --- sessions -----------------------------------------------------------------------------------------


async def sign_in(ctx: Context, pool: Pool, actor: Actor, key: str) -> tuple[str, Session]:
    """A new session for the account an API key names (Unauthorized for a key that is not one). An auditor's key
    signs in too: it reads the audit log and the change history here, and every page that changes something refuses
    it, as the API does. The session keeps the key's id, never the key. Returns the session id (for the cookie) and
    the session."""
    caller = await accounts.authenticate(pool, ctx.secret, f"Bearer {key.strip()}")
    session_id, csrf_token = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    assert caller.key_id is not None
    async with pool.acquire() as conn, conn.transaction():
        await queries.delete_idle_sessions(conn, SESSION_IDLE)
        await queries.insert_session(conn, _hash(session_id), caller.key_id, csrf_token)
        await audit.record(
            conn, msgspec.structs.replace(actor, caller=caller), status=201, detail="signed in to the console"
        )
    return session_id, Session(caller=caller, csrf_token=csrf_token)


async def session_of(conn: Connection | Pool, session_id: str | None) -> Session | None:
    """The live session this id names (None: none, expired, or its key revoked since)."""
    if not session_id or len(session_id) > 100:
        return None
    row = await queries.live_session(conn, _hash(session_id), SESSION_IDLE)
    if row is None:
        return None
    caller = await accounts.caller_of_key(conn, row["key_id"])
    if caller is None:
        await queries.delete_session(conn, _hash(session_id))
        return None
    return Session(caller=caller, csrf_token=row["csrf_token"])


def csrf_ok(session: Session, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(session.csrf_token.encode(), given.encode())


async def sign_out(conn: Connection, actor: Actor, session_id: str) -> None:
    async with conn.transaction():
        if await queries.delete_session(conn, _hash(session_id)):
            await audit.record(conn, actor, status=200, detail="signed out of the console")


# --- providers as the caller sees them ------------------------------------------------------------------


async def provider(ctx: Context, conn: Connection, caller: Caller, provider_id: int) -> Provider:
    """The profile as `caller` may see it (404 otherwise), as GET /providers/{id} gives it."""
    body, _ = await providers.profile_json(ctx, conn, caller, provider_id)
    return msgspec.json.decode(body, type=Provider)


async def changes_since(
    ctx: Context, conn: Connection, caller: Caller, provider_id: int, version: int, prefix: str = ""
) -> list[Change]:
    """What was changed in a profile after `version` (the version a form was opened at), oldest first; with
    `prefix` (`services[12].`), only those fields."""
    found: list[Change] = []
    page = await providers.history(ctx, conn, caller, provider_id, page=1, per_page=100)
    for entry in page.items:
        if entry.version <= version or not entry.field_name.startswith(prefix):
            continue
        if entry.last_action_type not in ("update", "create", "delete"):
            continue
        field = entry.field_name.removeprefix(prefix) if prefix else entry.field_name
        found.append(
            Change(
                field or entry.field_name,
                entry.previous_value,
                entry.replacement_value,
                entry.last_action_date,
                entry.updated_by_role,
            )
        )
    return found[::-1]


# --- shortlists -------------------------------------------------------------------------------------------


async def shortlist(ctx: Context, conn: Connection, caller: Caller, need_id: int) -> list[ShortlistEntry]:
    """A need's shortlist: staff, and an auditor, who reads what staff read."""
    admit(caller, STAFF, reading=True)
    await exercises.get_need(conn, need_id)
    entries = []
    for row in await queries.shortlist(conn, need_id):
        try:
            name = (await provider(ctx, conn, caller, row["provider_id"])).name
        except NotFound:
            name = f"provider {row['provider_id']}"
        entries.append(ShortlistEntry(provider_id=row["provider_id"], name=name, added_at=row["added_at"]))
    return entries


async def add_to_shortlist(ctx: Context, conn: Connection, actor: Actor, need_id: int, provider_id: int) -> str:
    """Add a provider to a need's shortlist (staff only; once). Returns the provider's name."""
    admit(actor.caller, STAFF)
    async with conn.transaction():
        need = await exercises.get_need(conn, need_id)
        name = (await provider(ctx, conn, actor.caller, provider_id)).name
        if await queries.add_to_shortlist(conn, need.id, provider_id, actor.caller.key_id):
            await audit.record(
                conn, actor, status=201, provider_id=provider_id, detail=f"shortlisted for need {need_id}"
            )
    return name


async def remove_from_shortlist(conn: Connection, actor: Actor, need_id: int, provider_id: int) -> None:
    admit(actor.caller, STAFF)
    async with conn.transaction():
        await exercises.get_need(conn, need_id)
        if not await queries.remove_from_shortlist(conn, need_id, provider_id):
            raise NotFound(f"provider {provider_id} is not on need {need_id}'s shortlist")
        await audit.record(
            conn, actor, status=200, provider_id=provider_id, detail=f"removed from need {need_id}'s shortlist"
        )


# --- comparison -----------------------------------------------------------------------------------------


def compare(run: MatchRun, provider_ids: list[str]) -> Comparison:
    """Up to four providers side by side as one match run scored them: a row per criterion. `provider_ids` as the
    page's address gives them (`forms.read_id`); more than four, the first four (the ranking's order, as its
    form sends them), saying how many were left out."""
    chosen: list[int] = []
    for typed in provider_ids:
        if (pid := forms.read_id(typed)) is None:
            raise InvalidInput.field("provider", f"{forms.not_an_id(typed, 'a provider')}: choose from a ranking")
        if pid not in chosen:
            chosen.append(pid)
    if not chosen:
        raise InvalidInput.field("provider", "tick at least one in the ranking")
    chosen, left_out = chosen[:MAX_COMPARED], len(chosen[MAX_COMPARED:])  # as many as fit side by side
    ranked = {c.provider_id: c for c in run.ranking}
    excluded = {e.provider_id: e for e in run.excluded}
    criteria = [s.criterion for s in run.ranking[0].criteria] if run.ranking else list(run.weights)
    columns = []
    for pid in chosen:
        if (c := ranked.get(pid)) is not None:
            columns.append(
                Column(
                    provider_id=pid,
                    name=c.name,
                    rank=c.rank,
                    total=c.total,
                    capacity=c.capacity,
                    strengths=c.strengths,
                    weaknesses=c.weaknesses,
                    scores={s.criterion: s for s in c.criteria},
                )
            )
        elif (e := excluded.get(pid)) is not None:
            columns.append(Column(provider_id=pid, name=e.name, excluded=tuple(r.message for r in e.reasons)))
        else:
            columns.append(Column(provider_id=pid, name=f"provider {pid}", in_run=False))
    return Comparison(run_id=run.id, criteria=criteria, columns=columns, left_out=left_out)


class NeedWeights(msgspec.Struct, frozen=True):
    """The weights a need would be matched with now, as percentages of the score (adding up to 100), and whose."""

    percent: dict[str, float]
    """By criterion, largest first (criteria counting 0 left out)."""
    source: str
    """Whose table they are, in words: "this need's own", "the exercise's default", "the standard"."""
    shared: float = 0
    """The percentage that table gives local priorities, shared among the others in proportion because the need has
    none (0: nothing shared), so that the figures shown are read against the table's own."""
    table: dict[str, float] = {}
    """That table's own percentages (local priorities included), by criterion: what its boxes would say."""


def need_weights(exercise: Exercise, need: Need) -> NeedWeights | None:
    """The need's weights in force (`weights_now`: its overrides, else the exercise's default weights, else the core's
    defaults) as a run would show them (`percentages_of`); None when those tables cannot be used."""
    weights = weights_now(exercise, need)
    if weights is None:
        return None
    shown = sorted(percentages_of(weights).items(), key=lambda kv: -kv[1])  # stable: the core's order among equals
    if need.weight_overrides is not None and need.weight_overrides.given():
        source = "this need's own"
    elif exercise.default_weights.given():
        source = "the exercise's default"
    else:
        source = "the standard"
    table = _percentages(in_force(exercise.default_weights, need.weight_overrides, None))
    shared = 0 if need.local_priorities else table.get(matching.LOCAL_PRIORITIES, 0)
    return NeedWeights(percent={k: v for k, v in shown if v > 0}, source=source, shared=shared, table=table)


def exercise_weights(exercise: Exercise) -> dict[str, float]:
    """The percentages an exercise's needs are matched with unless they have their own (its default weights, else
    the standard ones), local priorities included: what its default weights' boxes would say."""
    return _percentages(in_force(exercise.default_weights, None, None))


def _percentages(table: matching.Weights) -> dict[str, float]:
    """A table of weights (the core's defaults as fractions, a stored table as percentages) as percentages of the
    score, local priorities included."""
    return percentages_of(effective_weights(table, None, has_priorities=True).as_dict())


async def newest_run(conn: Connection, need_id: int, *, limit: int = 500) -> MatchRun | None:
    runs = await exercises.list_match_runs(conn, need_id)
    if not runs:
        return None
    return await exercises.get_match_run(conn, runs[0].id, limit=limit)


# --- forms --------------------------------------------------------------------------------------------------

T = TypeVar("T", bound=msgspec.Struct)
_MOST_CLEANINGS = 200
"""A form's problems take out at most this many of its parts before its use case's checks are given up on."""


class Checked(msgspec.Struct):
    """A form's body checked part by part against the type the API decodes it to (`check_form`): every problem the
    decoder finds, not only the first, and what is left of the body without the parts that have one, decoded, so the
    use case's own checks can run on the rest at the same time (`original` names their problems as the body does)."""

    problems: list[FieldProblem]
    """In the body's field paths (`contact.email`, `areas[1]`), in the decoder's words said as a form says them."""
    data: Any
    """The body less its parts with a problem, decoded (None when nothing of it decodes)."""
    kept: dict[str, list[int]] = {}
    """For each list some items were taken out of (by its path in the body as sent), the positions of those kept."""

    def original(self, problems: list[FieldProblem]) -> list[FieldProblem]:
        """Problems found in `data` named by the body's own paths: an item's position in the list as sent."""
        return [msgspec.structs.replace(p, field=self.as_sent(p.field)) for p in problems]

    def as_sent(self, field: str) -> str:
        """A path in `data` as the body sent named it."""
        path = ""
        for step in messages.steps(field):
            if isinstance(step, int):
                kept = self.kept.get(path)
                path += f"[{kept[step] if kept is not None and step < len(kept) else step}]"
            else:
                path = f"{path}.{step}" if path else step
        return path


def _without(data: Any, field: str, kept: dict[str, list[int]]) -> bool:
    """`data` (a body as sent, being cleaned) less the part `field` names (by its path as sent): a list's item (its
    position noted in `kept`, under the list's path as sent), or an object's field. False when there is none (the
    body itself, or a part taken out already)."""
    steps = messages.steps(field)
    if not steps:
        return False
    holder, path = data, ""
    for step in steps[:-1]:
        if isinstance(step, int):
            sent = kept.get(path)
            at = step if sent is None else sent.index(step) if step in sent else None
            if at is None or not isinstance(holder, list) or at >= len(holder):
                return False
            holder, path = holder[at], f"{path}[{step}]"
        else:
            if not isinstance(holder, dict) or step not in holder:
                return False
            holder, path = holder[step], f"{path}.{step}" if path else step
    last = steps[-1]
    if isinstance(last, str):
        if not isinstance(holder, dict) or last not in holder:
            return False
        del holder[last]
        return True
    if not isinstance(holder, list):
        return False
    sent = kept.setdefault(path, list(range(len(holder))))
    if last not in sent:
        return False
    del holder[sent.index(last)]
    sent.remove(last)
    return True


NEEDED_TOO = "fill this in too: what else you entered beside it needs it"
"""A box left empty that another one filled in beside it needs (a cost's unit with its amount)."""


def check_form(data: dict[str, Any], into: type[T], taxonomy: Any = None) -> Checked:
    """A change built from a form, checked exactly as the API checks a JSON body (its types' constraints), but part by
    part: every problem at once, named by the API's field paths (`contact.email`, `areas[1]`) in the API's own plain
    words as said to someone filling in a form (a number box is told "enter a whole number, for example 25", never
    "or null"; a code not in the taxonomy, the closest that is). With what decodes of the rest (`Checked.data`).

    Strictly, as the API reads JSON: the form turned what was typed as a number into one (`forms.as_number`), so text
    left in a number field was not typed as a number; read leniently, `1e3` and `1.0` would be taken as numbers."""
    problems: list[FieldProblem] = []
    failures = messages.failures(data, into)
    for field, said in failures:
        # a part given without a field it needs (a cost's unit)
        if (m := messages.MISSING_FIELD.match(said)) is not None:
            named = f"{field}.{m.group(1)}" if field else m.group(1)
            problems.append(FieldProblem(field=named, problem=NEEDED_TOO))
            continue
        value = messages.value_at(data, field)
        problems.append(
            messages.problem(field or "body", said, value=value, declared=into, form=True, taxonomy=taxonomy)
        )
    cleaned: Any = copy.deepcopy(data)
    kept: dict[str, list[int]] = {}
    for field, _ in failures:
        _without(cleaned, field, kept)
    checked = Checked(problems=problems, data=None, kept=kept)
    for _ in range(_MOST_CLEANINGS):  # a part left incomplete (an object without a field it needs): out too
        failed = messages.failed(cleaned, into)
        if failed is None:
            checked.data = msgspec.convert(cleaned, into, strict=True)
            break
        if not _without(cleaned, checked.as_sent(failed[1].removeprefix(".")), kept):
            break
    return checked


def decode_form(data: dict[str, Any], into: type[T], taxonomy: Any = None) -> T:
    """A change built from a form, decoded as the API decodes a JSON body; InvalidInput naming every problem the
    decoder finds (`check_form`)."""
    checked = check_form(data, into, taxonomy)
    if checked.problems:
        raise InvalidInput.from_problems(checked.problems)
    assert checked.data is not None
    return cast(T, checked.data)


async def check_all(
    data: dict[str, Any], into: type[T], taxonomy: Any, rules: Callable[[T], Awaitable[list[FieldProblem]]]
) -> T:
    """A form's change decoded with every problem it has found at once: the decoder's, part by part
    (`check_form`), and those its use case's own `rules` find in what decodes of the rest (named as the form sent
    them); InvalidInput naming them all. The use case still checks the change again when it makes it."""
    checked = check_form(data, into, taxonomy)
    problems = list(checked.problems)
    if checked.data is not None:
        told = [p.field for p in problems]
        problems += [p for p in checked.original(await rules(checked.data)) if not _within(p.field, told)]
    if problems:
        raise InvalidInput.from_problems(problems)
    return cast(T, checked.data)


def _within(field: str, told: list[str]) -> bool:
    """Whether `field` is one of `told`, holds one or is held by one: a part with a problem of its own was left out
    of what the rules saw, so what they say of it, or of what holds it, is not about what was typed."""
    return any(
        field == t or t.startswith((f"{field}.", f"{field}[")) or field.startswith((f"{t}.", f"{t}[")) for t in told
    )


def optional(form: Mapping[str, str], name: str) -> str | None:
    """A text box's value, or None when left empty (a field the form may clear)."""
    value = form.get(name, "").strip()
    return value or None


# --- market engagement: a provider's response as a form ---------------------------------------------------

_ASKED = re.compile(r"^question (\d+) needs an answer")


def _answer_value(kind: str, form: Mapping[str, str], name: str, choices: list[str]) -> Any:
    """A question's answer as the form gives it, in the API's type (None: left unanswered). A number is plain digits
    (thousands commas aside: `forms.read_number`); one that does not read as one is passed on as typed, for the API to
    name the problem."""
    if kind == "multiple_choice":
        picked = [c for i, c in enumerate(choices) if form.get(f"{name}.{i}")]
        return picked or None
    value = form.get(name, "").strip()
    if not value:
        return None
    if kind == "yes_no":
        return {"yes": True, "no": False}.get(value, value)
    if kind == "number":
        number = forms.read_number(forms.without_thousands(value), whole=False)
        return value if number is None else number
    return value


def response_body(
    form: Mapping[str, str], notice: Notice, previous: Response | None
) -> tuple[dict[str, Any], dict[str, str]]:
    """The response form as a POST/PUT /exercises/{id}/responses body, and where each of the body's API field paths
    (`needs[0].unit_cost`, `answers[2].value`) shows on the form (`need.7.unit_cost`, `answer.12`).

    A need left without an intent is left out; a need marked not interested sends no services, capacity, cost or
    partners (the API refuses them then); a form without a need's partners (its `need.7.partners` marker) keeps them
    as the last revision gave them."""
    where: dict[str, str] = {}
    kept = {n.need_id: n for n in previous.needs} if previous is not None else {}
    needs: list[dict[str, Any]] = []
    for need in notice.needs:
        p = f"need.{need.id}"
        intent = form.get(f"{p}.intent", "").strip()
        if not intent:
            continue
        a = f"needs[{len(needs)}]"
        where |= {a: f"{p}.intent", f"{a}.barriers": f"{p}.barriers", f"{a}.barriers_text": f"{p}.barriers_text"}
        item: dict[str, Any] = {"need_id": need.id, "intent": intent}
        if intent != "not_interested":
            prefix = f"{p}.service."
            ticked = (forms.read_id(k.removeprefix(prefix)) for k in form if k.startswith(prefix))  # keys as sent
            item["service_ids"] = [sid for sid in ticked if sid is not None]
            where[f"{a}.service_ids"] = f"{p}.services"
            capacity: list[dict[str, Any]] = []
            boxes = f"{p}.capacity."
            for name in [k for k in form if k.startswith(boxes)]:  # the areas the form offered, as sent
                if (v := optional(form, name)) is not None:
                    where[f"{a}.capacity[{len(capacity)}]"] = name
                    area = name.removeprefix(boxes)
                    capacity.append({"area": area, "service_users_per_year": forms.as_number(v, whole=True)})
            item["capacity"] = capacity
            if (cost := optional(form, f"{p}.unit_cost")) is not None:
                item["unit_cost"] = forms.as_number(forms.money(cost), whole=True)
            where[f"{a}.unit_cost"] = f"{p}.unit_cost"
            if f"{p}.partners" in form:  # the form's partners (its marker: none given clears them)
                item["partners"] = forms.partners_body(form, p, a, where)
            elif need.id in kept and kept[need.id].partners:
                item["partners"] = msgspec.to_builtins(kept[need.id].partners)
        item["barriers"] = [b for b in BARRIERS if form.get(f"{p}.barrier.{b}")]
        item["barriers_text"] = form.get(f"{p}.barriers_text", "").strip()
        needs.append(item)
    answers: list[dict[str, Any]] = []
    for q in notice.questions:
        value = _answer_value(q.kind, form, f"answer.{q.id}", q.choices)
        if value is not None:
            where[f"answers[{len(answers)}]"] = f"answer.{q.id}"
            answers.append({"question_id": q.id, "value": value})
    if notice.needs:
        where["needs"] = f"need.{notice.needs[0].id}.intent"
    return {"needs": needs, "answers": answers}, where


def place(
    problems: list[FieldProblem],
    where: Mapping[str, str],
    values: dict[str, str],
    labels: Mapping[str, str] | None = None,
) -> FormState:
    """The API's problems beside the form fields their paths name (the longest path `where` knows that the problem's
    path starts with); a required question left unanswered beside that question; the rest in the summary only.
    With the form's `labels` (its fields in the form's order), the problems are in the form's order, as the summary
    lists them."""
    placed, unplaced = [], []
    for p in problems:
        name = None
        said = forms.API_WORDS.get(p.problem) or forms.as_form_words(p.problem)
        if p.field == "answers" and (m := _ASKED.match(p.problem)) is not None:
            name, said = f"answer.{m.group(1)}", "this question needs an answer"
        else:
            for path in sorted(where, key=len, reverse=True):
                if p.field == path or p.field.startswith((f"{path}.", f"{path}[")):
                    name = where[path]
                    break
        if name is None:
            unplaced.append(msgspec.structs.replace(p, problem=said))
        else:
            placed.append(msgspec.structs.replace(p, field=name, problem=said))
    if labels is not None:
        order = {name: i for i, name in enumerate(labels)}
        placed.sort(key=lambda p: order.get(p.field, len(order)))
    return FormState(values=values, problems=placed, unplaced=unplaced, labels=dict(labels or {}))


PARTNERS_SHOWN = 22
"""Partner items a need's part of the response form may show (the API takes 20; one blank; one too many)."""


CapacityAreas = Mapping[int, list[tuple[str, str]]]
"""Per need (by id), the areas its part of the response form takes capacity for: (code, name)."""


OUTSIDE = "outside"
"""The answer to "did you mean ...?" that keeps a partner's name as an organisation outside the directory."""


async def recognise_partners(
    ctx: Context,
    conn: Connection,
    live: LiveIndex,
    form: Mapping[str, str],
    body: dict[str, Any],
    where: dict[str, str],
    provider_id: int,
    previous: Response | None,
) -> tuple[dict[str, Meant], list[FieldProblem]]:
    """The response form's partners given by name, as the directory knows them: the API takes a directory provider
    only by its number, and a name, counted as outside the directory, it refuses when it is a published provider's.
    - a published provider's name (whatever its case, spacing or accents, as the API folds names) is sent as that
      provider's number;
    - a name the directory holds under a close name (reconciliation's clear match: "Arrow Valley Housing" for "Arrow
      Valley Housing Aid") is asked about, beside its row (`need.7.partner.0.meant`): that provider, or an
      organisation outside the directory; answered, the body takes the answer. A name this response already gave
      for the need (an answer given before) is not asked about again.
    The provider's own name is left for the API to refuse. The close names asked about, by their rows, and a problem
    for each (each row's API path noted in `where`)."""
    kept = {
        n.need_id: {fold(x.name) for x in n.partners if x.name is not None}
        for n in (previous.needs if previous is not None else [])
    }
    unsure: dict[str, tuple[str, str]] = {}  # row -> (the API's path, the name typed)
    for j, need in enumerate(body["needs"]):
        partners = need.get("partners", [])
        for k, partner in enumerate(partners):
            name = partner.get("name")
            if partner.keys() != {"name"} or not isinstance(name, str):
                continue
            path = f"needs[{j}].partners[{k}]"
            row = where.get(path, "").removesuffix(".provider_id")
            meant = form.get(f"{row}.meant", "").strip() if row else ""
            if (found := await providers.published_named(conn, name)) is not None:
                if found[0] != provider_id:
                    partners[k] = {"provider_id": found[0]}
            elif (chosen := forms.read_id(meant)) is not None:
                partners[k] = {"provider_id": chosen}
            elif row and meant != OUTSIDE and fold(name) not in kept.get(need["need_id"], set()):
                unsure[row] = (path, name)
    if not unsure:
        return {}, []
    batch = {row: ReconQuery(query=name, type="organisation", limit=1) for row, (_, name) in unsure.items()}
    answers = await reconciliation.reconcile(ctx, conn, live, batch)
    asks: dict[str, Meant] = {}
    problems: list[FieldProblem] = []
    for row, (path, typed) in unsure.items():
        top = answers[row].result[:1]
        if top and top[0].match and int(top[0].id) != provider_id:
            asks[row] = Meant(typed=typed, provider_id=int(top[0].id), name=top[0].name)
            where[f"{path}.meant"] = f"{row}.meant"
            problems.append(
                FieldProblem(
                    field=f"{path}.meant",
                    problem=f"the directory has {top[0].name}: choose whether you mean it or an organisation outside "
                    "the directory",
                )
            )
    return asks, problems


def response_capacity_areas(
    taxonomy: Any, notice: Notice, services: list[Any], values: Mapping[str, str]
) -> dict[int, list[tuple[str, str]]]:
    """The areas the response form asks capacity for, per need: those the provider's active services in the need's
    pathway cover within the need's areas (`engagement.covered_areas`: the districts they serve in a county need,
    not the county, whose figure would count across all of it), else the need's own areas; and any area the form
    already holds a figure for (a stored response's, or one typed), so that none is dropped unseen."""
    names = taxonomy.codes("areas")
    found: dict[int, list[tuple[str, str]]] = {}
    for n in notice.needs:
        fitting = [a for s in services if s.status == "active" and s.pathway == n.pathway for a in s.areas]
        codes = engagement.covered_areas(taxonomy, fitting, n.areas) if fitting else []
        codes = codes or list(n.areas)
        boxes = f"need.{n.id}.capacity."
        codes += [k.removeprefix(boxes) for k, v in values.items() if k.startswith(boxes) and v.strip()]
        found[n.id] = [(c, names.get(c, c)) for c in dict.fromkeys(codes)]
    return found


def response_labels(notice: Notice, capacity_areas: CapacityAreas | None = None) -> dict[str, str]:
    """The response form's fields as the error summary names them, in the form's order (need by need, then the
    questions). `capacity_areas`: the areas each need's part asks capacity for (default: the need's own)."""
    labels: dict[str, str] = {}
    for n in notice.needs:
        p, t = f"need.{n.id}", n.title
        labels |= {f"{p}.intent": f"{t}: would you bid", f"{p}.services": f"{t}: your services"}
        areas = capacity_areas.get(n.id) if capacity_areas is not None else None
        for a, name in areas if areas is not None else zip(n.areas, n.area_names, strict=True):
            labels[f"{p}.capacity.{a}"] = f"{t}: people a year in {name}"
        labels[f"{p}.unit_cost"] = f"{t}: indicative cost per person"
        for i in range(PARTNERS_SHOWN):
            labels[f"{p}.partner.{i}.name"] = f"{t}: partner {i + 1}, organisation name"
            labels[f"{p}.partner.{i}.meant"] = f"{t}: partner {i + 1}, in the directory or not"
            labels[f"{p}.partner.{i}.provider_id"] = f"{t}: partner {i + 1}, directory provider number"
        labels |= {f"{p}.barriers": f"{t}: barriers", f"{p}.barriers_text": f"{t}: about the barriers"}
    labels |= {f"answer.{q.id}": f"Question {i} ({shorten(q.text, 60)})" for i, q in enumerate(notice.questions, 1)}
    return labels


def response_values(notice: Notice, r: Response) -> dict[str, str]:
    """A stored response as the form shows it."""
    values: dict[str, str] = {"revision": str(r.revision)}
    for n in r.needs:
        p = f"need.{n.need_id}"
        values[f"{p}.intent"] = n.intent
        values |= {f"{p}.service.{sid}": "on" for sid in n.service_ids}
        values |= {f"{p}.capacity.{c.area}": str(c.service_users_per_year) for c in n.capacity}
        values[f"{p}.unit_cost"] = "" if n.unit_cost is None else str(n.unit_cost)
        values |= forms.partner_values(p, n.partners)
        values |= {f"{p}.barrier.{b}": "on" for b in n.barriers}
        values[f"{p}.barriers_text"] = n.barriers_text
    kinds = {q.id: q for q in notice.questions}
    for a in r.answers:
        q = kinds.get(a.question_id)
        if q is None:
            continue
        name, v = f"answer.{q.id}", a.value
        if isinstance(v, bool):
            values[name] = "yes" if v else "no"
        elif isinstance(v, list):
            values |= {f"{name}.{i}": "on" for i, c in enumerate(q.choices) if c in v}
        elif isinstance(v, float):
            values[name] = forms.number(v)
        else:
            values[name] = str(v)
    return values


def response_changes(notice: Notice, opened: Response | None, now: Response) -> list[Change]:
    """What changed in a response between the revision a form was opened at and the current one, field by form
    field (`field` is the form's name; `before`/`after` as the form shows them: "" for empty or unticked)."""
    was = response_values(notice, opened) if opened is not None else {}
    is_ = response_values(notice, now)
    return [
        Change(k, was.get(k, ""), is_.get(k, ""), now.saved_at, "provider")
        for k in sorted(set(was) | set(is_))
        if k != "revision" and was.get(k, "") != is_.get(k, "")
    ]


def change_label(notice: Notice, services: list[Any], name: str, capacity_areas: CapacityAreas | None = None) -> str:
    """A response form field as a person reads it (`need.7.service.12` -> "Need title: Service name")."""
    needs = {str(n.id): n for n in notice.needs}
    questions = {str(q.id): (i, q) for i, q in enumerate(notice.questions, 1)}
    parts = name.split(".")
    if parts[0] == "need" and len(parts) >= 3 and parts[1] in needs:
        n = needs[parts[1]]
        if parts[2] == "service" and len(parts) == 4:
            named = {str(s.id): s.name for s in services}
            return f"{n.title}: {named.get(parts[3], 'service ' + parts[3])}"
        if parts[2] == "barrier" and len(parts) == 4:
            return f"{n.title}: barrier {parts[3].replace('_', ' ')}"
        return response_labels(notice, capacity_areas).get(name, name)
    if parts[0] == "answer" and len(parts) >= 2 and parts[1] in questions:
        i, q = questions[parts[1]]
        c = forms.read_number(parts[2]) if len(parts) == 3 else None
        choice = f" ({q.choices[c]})" if isinstance(c, int) and 0 <= c < len(q.choices) else ""
        return f"Question {i}{choice}"
    return name


# --- options appraisals: a form's change checked as the API checks it --------------------------------------------


async def appraisal_problems(conn: Connection, data: AppraisalIn) -> list[FieldProblem]:
    """What the appraisals room's own checks (`appraisals.check`, as every change runs them) find in `data`, as
    problems rather than a 422, for `check_all`."""
    try:
        await appraisals.check(conn, data)
    except Unprocessable as exc:
        return list(exc.problems)
    return []


async def appraisal_change_problems(conn: Connection, appraisal_id: int, changes: dict[str, Any]) -> list[FieldProblem]:
    """What the appraisals room's checks find in the appraisal with `changes` made (a part replaced, settings
    patched): its inputs as held, changed, checked as a whole, as the change itself will check them."""
    current = await appraisals.get_appraisal(conn, appraisal_id)
    return await appraisal_problems(conn, msgspec.structs.replace(project(current, AppraisalIn), **changes))


def part_now(a: Appraisal, part: str) -> list[str]:
    """One part of an appraisal as it is held now, an item a line in words (shown after a conflict)."""
    options = {o.key: appraisal_forms.option_label(o) for o in a.options}
    criteria = {c.key: c.name for c in a.criteria}
    if part == "settings":
        budget = "no budget" if a.annual_budget is None else f"£{a.annual_budget:,} a year"
        return [f"{a.title}: {a.years} contract years at {forms.number(a.discount_rate * 100)}% a year, {budget}"]
    if part == "options":
        return [f"{options[o.key]} ({o.key}, {MODEL_LABELS[o.model]})" for o in a.options]
    if part == "criteria":
        return [f"{c.name} ({c.key}): weight {forms.number(c.weight)}, scored 0 to {c.scale}" for c in a.criteria]
    if part == "scores":
        return [
            f"{s.assessor}: {options.get(s.option, s.option)} on {criteria.get(s.criterion, s.criterion)}, "
            f"{forms.number(s.score)}"
            for s in a.scores
        ]
    if part == "moderation":
        return [
            f"{options.get(m.option, m.option)} on {criteria.get(m.criterion, m.criterion)}: "
            f"{forms.number(m.score)} ({m.note})"
            for m in a.moderation
        ]
    return [
        f"{options.get(c.option, c.option)}, year {c.year}, {COST_LABELS[c.category]}: £{c.amount:,}" for c in a.costs
    ]


# --- the audit log and the change history, for admins and auditors ---------------------------------------------

LOG_READERS = ("admin",)
"""Who reads the audit log and the change history: the roles the API's guard on GET /audit and GET /changes admits
(`admin`), an auditor reading what an admin may read (`admit(..., reading=True)`); a commissioner or a provider is
refused (403), as the API refuses them."""
AUDIT_PER_PAGE = 50
CHANGES_PER_PAGE = 20
"""Fewer changes than audit entries to a page: each change is a table of its fields."""
OUTCOMES = {"write": "Changes", "denied": "Refusals"}
"""The audit log's outcomes (the API's `outcome`: write, denied), as the page says them."""
RECORD_TABLES: dict[str, str] = {
    "exercise": "Exercise",
    "need": "Need",
    "engagement_question": "Market-engagement question",
    "engagement_clarification": "Clarification question",
    "appraisal": "Options appraisal",
    "provider": "Provider (its status and verifications)",
    "api_key": "API key",
    "pathway": "Pathway (taxonomy)",
    "area": "Area (taxonomy)",
    "cohort": "Cohort (taxonomy)",
    "sector": "Sector (taxonomy)",
    "legal_form": "Legal form (taxonomy)",
    "accreditation": "Accreditation (taxonomy)",
    "desired_outcome": "Desired outcome (taxonomy)",
    "social_value_commitment": "Social value commitment (taxonomy)",
}
"""The records the change history keeps (`accounts.models.RecordTable`), in words, in the order the page lists them."""
assert set(RECORD_TABLES) == set(get_args(RecordTable)), "every table of the change history has its words"
RECORD_NOUNS = {t: w.split(" (")[0] for t, w in RECORD_TABLES.items()} | {"engagement_question": "Question"}
"""A record of each table as a sentence names it ("Need 7", "Question 5", "Pathway ACCOM")."""
WITHOUT_A_KEY = {
    "anonymous": Who(name="No API key", role="anyone"),
    "system": Who(name="The command line", role="system"),
    None: Who(name="No one named", role="changed in the database directly, around the API"),
}
"""Who acted, when no key did: a request without a usable key, the command line (or the demo data's loader), or a
change made straight in the database (the change history's triggers name no one then)."""


def may_read_the_logs(caller: Caller) -> None:
    admit(caller, LOG_READERS, reading=True)


def who(key_id: int | None, role: str | None, keys: Mapping[int, ApiKey]) -> Who:
    """Who an entry names, by the key's name. A key no longer on record (never so today: keys are revoked, not
    deleted) is still named by its number and the role the entry recorded."""
    if key_id is None:
        return WITHOUT_A_KEY.get(role) or Who(name="No API key", role=role or "none recorded")
    key = keys.get(key_id)
    if key is None:
        return Who(
            name=f"API key {key_id}", role=role or "role not recorded", key_id=key_id, note="no longer on record"
        )
    return Who(name=key.name, role=role or key.role, key_id=key_id, note="revoked since" if key.revoked_at else "")


async def keys_by_id(conn: Connection) -> dict[int, ApiKey]:
    """Every key, by id: the names the pages show, and the choices of their Who filter (keys are made by hand, a
    few hundred at most: one query for all of them is cheaper than one per entry)."""
    return {k.id: k for k in await accounts.list_keys(conn)}


def key_choices(keys: Mapping[int, ApiKey]) -> list[tuple[str, str]]:
    """The Who filter's options, (key id, words), by name."""
    ordered = sorted(keys.values(), key=lambda k: (k.name.casefold(), k.id))
    return [(str(k.id), f"{k.name} ({k.role}, key {k.id}{', revoked' if k.revoked_at else ''})") for k in ordered]


_NAMED = re.compile(r"\b(exercise|need|appraisal|question|clarification|key)s? ([0-9]{1,15})\b")
_IN_PATH = re.compile(r"/(exercise|need|appraisal|question|clarification|key)s/([0-9]{1,15})(?=/|$)")
_TABLE_OF = {
    "exercise": "exercise",
    "need": "need",
    "appraisal": "appraisal",
    "question": "engagement_question",
    "clarification": "engagement_clarification",
    "key": "api_key",
}
_UNKEPT = re.compile(r"\b(response|match run|partnership run|report|import)\b")
"""What a write's detail names when what it wrote is a record the change history does not keep (responses, match
runs, reports and imports are never changed: each has its own record): such an entry links to no history."""
PROVIDER_STANDING = ("publish", "archive", "verify")
"""The writes of a provider the change history keeps (its status and verified mark); its profile's changes are in
the profile's own history."""


def record_named(entry: AuditEntry) -> tuple[str, str] | None:
    """The record a write's audit entry names, whose change history shows what it changed: the first its detail
    names ("created need 7", "moved question 5 of exercise 1"), else the last its path names (PATCH /needs/7), or
    the provider it published, archived or verified. None for a denied attempt (it changed nothing), or where none
    is named, or what it wrote is not kept there (`_UNKEPT`)."""
    if entry.outcome != "write" or _UNKEPT.search(entry.detail):
        return None
    if found := _NAMED.search(entry.detail):
        return _TABLE_OF[found.group(1)], found.group(2)
    if in_path := _IN_PATH.findall(entry.path):
        return _TABLE_OF[in_path[-1][0]], in_path[-1][1]
    if entry.provider_id is not None and entry.detail in PROVIDER_STANDING:
        return "provider", str(entry.provider_id)
    return None


def _filter_id(given: Mapping[str, str], field: str, whose: str, problems: list[FieldProblem]) -> int | None:
    typed = given.get(field, "").strip()
    if not typed:
        return None
    if (found := forms.read_id(typed)) is None:
        problems.append(FieldProblem(field=field, problem=forms.not_an_id(typed, whose)))
    return found


def _choice(
    given: Mapping[str, str], field: str, choices: Mapping[str, str], problems: list[FieldProblem]
) -> str | None:
    typed = given.get(field, "").strip()
    if typed and typed not in choices:
        said = f"{forms.quoted(typed)} is not one of the choices: choose from the list"
        problems.append(FieldProblem(field=field, problem=said))
        return None
    return typed or None


def _instant(given: Mapping[str, str], field: str) -> str | None:
    return given.get(field, "").strip() or None


async def audit_log(conn: Connection, caller: Caller, given: Mapping[str, str], page: int) -> AuditView:
    """The audit log's page as GET /audit gives it, newest first, each entry's key named; its filters as the page's
    address gives them (`given`), each read as the API reads it. Filters it cannot take are the view's problems,
    by field, with no entries."""
    may_read_the_logs(caller)
    keys = await keys_by_id(conn)
    problems: list[FieldProblem] = []
    key_id = _filter_id(given, "key_id", "an API key", problems)
    provider_id = _filter_id(given, "provider_id", "a provider", problems)
    outcome = _choice(given, "outcome", OUTCOMES, problems)
    view = AuditView(found=None, rows=[], problems=problems, keys=key_choices(keys))
    found = await _read(
        problems,
        lambda: accounts.audit_log(
            conn,
            key_id=key_id,
            provider_id=provider_id,
            outcome=cast(audit.Outcome | None, outcome),
            since=_instant(given, "since"),
            until=_instant(given, "until"),
            page=page,
            per_page=AUDIT_PER_PAGE,
        ),
    )
    if found is not None:
        view.found = found
        view.rows = [AuditRow(e, who(e.key_id, e.role, keys), record_named(e)) for e in found.items]
    return view


P = TypeVar("P")


async def _read(problems: list[FieldProblem], fetch: Callable[[], Awaitable[P]]) -> P | None:
    """The page of a log its filters ask for, read as the API reads them; None while `problems` holds filters the
    page could not read, or when the API refuses them (its problems added)."""
    if problems:
        return None
    try:
        return await fetch()
    except (InvalidInput, Unprocessable) as exc:
        problems += exc.problems
        return None


async def change_history(conn: Connection, caller: Caller, given: Mapping[str, str], page: int) -> ChangesView:
    """The change history's page as GET /changes gives it, newest first, each change's key named and each field's
    values made readable (`shown`); its filters read as the API reads them (problems: as `audit_log`'s)."""
    may_read_the_logs(caller)
    keys = await keys_by_id(conn)
    problems: list[FieldProblem] = []
    table = _choice(given, "table", RECORD_TABLES, problems)
    record_id = given.get("record_id", "").strip() or None
    if record_id is not None and not re.fullmatch(RECORD_ID, record_id):
        problems.append(FieldProblem(field="record_id", problem=PLAIN[RECORD_ID][0]))
    elif record_id is not None and table is None and not problems:  # the API's rule, in the page's words
        said = "choose the kind of record too: a number is one need's, or one exercise's, and so on"
        problems.append(FieldProblem(field="record_id", problem=said))
    key_id = _filter_id(given, "key_id", "an API key", problems)
    view = ChangesView(found=None, rows=[], problems=problems, keys=key_choices(keys))
    found = await _read(
        problems,
        lambda: accounts.change_history(
            conn,
            table=table,
            record_id=record_id,
            key_id=key_id,
            since=_instant(given, "since"),
            until=_instant(given, "until"),
            page=page,
            per_page=CHANGES_PER_PAGE,
        ),
    )
    if found is not None:
        view.found = found
        view.rows = [
            ChangeRow(
                c, who(c.key_id, c.role, keys), [FieldRow(f.field, shown(f.before), shown(f.after)) for f in c.changes]
            )
            for c in found.items
        ]
    return view


SHOWN_MOST = 120
"""The longest value a cell shows whole; a longer one is shortened, the whole of it a click away."""


def shown(value: Any) -> Shown:
    """A stored value as a person reads it: "(empty)" for none, Yes or No, a date or a time as the UK's clocks show
    it (a time to the second: the history stores times in UTC, and a time changed within a minute must show so; the
    value as stored is kept, `exact`), a list of plain values joined with commas, other JSON laid out over lines.
    What is longer than SHOWN_MOST characters, or laid out, is shortened in the cell with the whole of it to open."""
    if value is None:
        return Shown("(empty)")
    if isinstance(value, bool):
        return Shown("Yes" if value else "No")
    if isinstance(value, str):
        if (when := _stored_time(value)) is not None:
            return Shown(when, exact=value)
        return Shown(shorten(value, SHOWN_MOST), full=value if len(value) > SHOWN_MOST or "\n" in value else "")
    if isinstance(value, dict | list) and not value:
        return Shown("(none)")
    if isinstance(value, list) and all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in value):
        text = ", ".join(str(v) for v in value)
        return Shown(shorten(text, SHOWN_MOST), full=text if len(text) > SHOWN_MOST else "")
    if isinstance(value, dict | list):
        compact = json.dumps(value, ensure_ascii=False)
        laid_out = json.dumps(value, ensure_ascii=False, indent=2)
        long = len(compact) > SHOWN_MOST // 3
        return Shown(shorten(compact, SHOWN_MOST), full=laid_out if long else "", json=long)
    return Shown(str(value))


_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([+-][0-9]{2}:[0-9]{2}|Z)")


def _stored_time(text: str) -> str | None:
    """A date or a time as PostgreSQL's JSON stores a date or timestamptz column ("2026-11-30",
    "2026-11-30T21:15:17.593556+00:00") in words, else None."""
    try:
        if _DATE.fullmatch(text):
            return formatting.date(dt.date.fromisoformat(text))
        if _TIME.fullmatch(text):
            return formatting.uk_when(dt.datetime.fromisoformat(text), seconds=True)
    except ValueError:  # not a day of the calendar: shown as it is
        return None
    return None
