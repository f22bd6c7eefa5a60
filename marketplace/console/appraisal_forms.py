"""An options appraisal's forms as form fields and back: its settings, options, criteria, one assessor's scores (a
grid of option x criterion), the moderated scores (the same grid), its cost lines and the decision, each turned into
the body the API's own PATCH, PUT or POST takes, with where each of the body's field paths shows on the form
(`options[1].partner` -> `option.2.partner`), so the service's problems go beside the right box.

The rules are the appraisals room's own (`appraisals.service`): nothing here checks what the service checks; a form
only carries what was typed, and says where a problem the service found belongs. Saving a form as it opened
changes nothing: lists keep the order the appraisal holds them in."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import msgspec

from marketplace.appraisals.models import COST_LABELS, MODEL_LABELS, Appraisal
from marketplace.console import forms
from marketplace.errors import FieldProblem

PART_NAMES = {
    "options": "options",
    "criteria": "criteria",
    "scores": "assessors’ scores",
    "moderation": "moderated scores",
    "costs": "cost lines",
}
"""The parts of an appraisal as the console's pages name them."""

OPTION = ("key", "model", "label", "partner", "lots_by", "description", "goes_to_market")
CRITERION = ("key", "name", "weight", "scale", "description", "anchors")
COST = ("option", "year", "category", "amount", "note")
TYPED = {
    "option": ("key", "label", "partner", "description"),
    "criterion": ("key", "name", "weight", "description", "anchors"),
    "cost": ("year", "amount", "note"),
}
"""The boxes that say whether a list's item was filled in (its selects always send a value, so they do not)."""
LOTS_BY = {"area": "By area", "pathway": "By pathway"}
TO_MARKET = {"": "As the delivery model does", "yes": "Yes", "no": "No"}
SCALES = {"5": "0 to 5", "10": "0 to 10"}


def _s(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return forms.number(value)
    return str(value)


def _optional(form: Mapping[str, str], name: str) -> str | None:
    return form.get(name, "").strip() or None


def _text(form: Mapping[str, str], name: str) -> str:
    return form.get(name, "").strip()


def _number(form: Mapping[str, str], name: str, *, whole: bool, pounds: bool = False) -> Any:
    """A number box's value for the body (`forms.as_number`): None when empty."""
    value = _optional(form, name)
    return forms.as_number(forms.money(value) if pounds else value, whole=whole)


# --- settings (start an appraisal; change its settings) ------------------------------------------------------

SETTINGS_LABELS = {
    "title": "Title",
    "description": "Description",
    "years": "Contract years",
    "discount_rate": "Discount rate a year",
    "annual_budget": "Annual budget (£)",
}


def settings_values(a: Appraisal | None = None) -> dict[str, str]:
    """The settings as the form shows them (a new appraisal's: the API's defaults, 3 years at 3.5%)."""
    if a is None:
        return {"title": "", "description": "", "years": "3", "discount_rate": "0.035", "annual_budget": ""}
    return {
        "title": a.title,
        "description": a.description,
        "years": str(a.years),
        "discount_rate": _s(a.discount_rate),
        "annual_budget": _s(a.annual_budget),
        "version": str(a.version),
    }


def settings_body(form: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The settings form as a POST /appraisals (or PATCH /appraisals/{id}) body: an empty number box is left to the
    API's default when starting, an empty budget is no budget."""
    body: dict[str, Any] = {"title": _text(form, "title"), "description": _text(form, "description")}
    for name, whole in (("years", True), ("discount_rate", False)):
        if (value := _number(form, name, whole=whole)) is not None:
            body[name] = value
    body["annual_budget"] = _number(form, "annual_budget", whole=True, pounds=True)
    return body, {k: k for k in SETTINGS_LABELS}


# --- options ---------------------------------------------------------------------------------------------------


def options_values(a: Appraisal) -> dict[str, str]:
    values = {"version": str(a.version)}
    for i, o in enumerate(a.options):
        p = f"option.{i}"
        values |= {f"{p}.{f}": _s(getattr(o, f)) for f in OPTION if f != "goes_to_market"}
        values[f"{p}.goes_to_market"] = "" if o.goes_to_market is None else ("yes" if o.goes_to_market else "no")
        values[f"{p}.held"] = o.key
        values[f"{p}.buys"] = "all" if o.need_ids is None else "some"
        values |= {f"{p}.need.{n}": "on" for n in o.need_ids or []}
    return values


def options_body(form: Mapping[str, str]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The options form as PUT /appraisals/{id}/options' `options`, and where each path shows on the form. An item
    ticked "remove", or left blank, is left out."""
    return _list_body(
        form, "option", "options", _option, OPTION, first="key", whole="key", renamed={"need_ids": "buys"}
    )


def _option(form: Mapping[str, str], p: str) -> dict[str, Any]:
    item: dict[str, Any] = {"key": _text(form, f"{p}.key")}
    if model := _text(form, f"{p}.model"):
        item["model"] = model  # required: left unchosen, the decoder says so beside the box
    for f in ("label", "partner", "lots_by"):
        item[f] = _optional(form, f"{p}.{f}")
    item["description"] = _text(form, f"{p}.description")
    item["goes_to_market"] = {"yes": True, "no": False}.get(_text(form, f"{p}.goes_to_market"))
    if _text(form, f"{p}.buys") == "some":
        prefix = f"{p}.need."
        ticked = (forms.read_id(k.removeprefix(prefix)) for k, v in form.items() if k.startswith(prefix) and v)
        item["need_ids"] = [n for n in ticked if n is not None]
    else:
        item["need_ids"] = None
    return item


# --- criteria --------------------------------------------------------------------------------------------------


def criteria_values(a: Appraisal) -> dict[str, str]:
    values = {"version": str(a.version)}
    for i, c in enumerate(a.criteria):
        p = f"criterion.{i}"
        values |= {
            f"{p}.key": c.key,
            f"{p}.held": c.key,
            f"{p}.name": c.name,
            f"{p}.weight": _s(c.weight),
            f"{p}.scale": str(c.scale),
            f"{p}.description": c.description,
            f"{p}.anchors": "\n".join(c.anchors),
        }
    return values


def criteria_body(form: Mapping[str, str]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    return _list_body(form, "criterion", "criteria", _criterion, CRITERION, first="key", whole="weight")


def _criterion(form: Mapping[str, str], p: str) -> dict[str, Any]:
    item: dict[str, Any] = {"key": _text(form, f"{p}.key"), "name": _text(form, f"{p}.name")}
    item["weight"] = _number(form, f"{p}.weight", whole=False)
    if item["weight"] is None:
        del item["weight"]  # required: the decoder says so beside the box
    scale = _number(form, f"{p}.scale", whole=True)
    item["scale"] = 5 if scale is None else scale
    item["description"] = _text(form, f"{p}.description")
    item["anchors"] = [line.strip() for line in form.get(f"{p}.anchors", "").splitlines() if line.strip()]
    return item


ROW_WORDS: dict[str, tuple[str, dict[str, str]]] = {
    "option": (
        "Option",
        {
            "key": "key",
            "model": "delivery model",
            "label": "name",
            "partner": "partner organisation",
            "lots_by": "lots",
            "description": "description",
            "goes_to_market": "goes to market",
            "buys": "needs it would buy",
            "remove": "remove",
        },
    ),
    "criterion": (
        "Criterion",
        {
            "key": "key",
            "name": "name",
            "weight": "weight",
            "scale": "scored",
            "description": "description",
            "anchors": "what each level means",
            "remove": "remove",
        },
    ),
    "cost": (
        "Cost line",
        {"option": "option", "year": "contract year", "category": "category", "amount": "amount", "note": "note"},
    ),
}
"""Each kind of repeated row: what a row is called, and what each of its boxes is called."""


def row_labels(values: Mapping[str, str], kind: str) -> dict[str, str]:
    """The names of the boxes of every row of `kind` the form shows ("Option 2: delivery model")."""
    title, words = ROW_WORDS[kind]
    return {
        f"{kind}.{i}.{f}": f"{title} {i + 1}: {w}"
        for i in forms.items(values, kind, TYPED[kind])
        for f, w in words.items()
    }


def _list_body(
    form: Mapping[str, str],
    kind: str,
    api: str,
    item: Callable[[Mapping[str, str], str], dict[str, Any]],
    fields: tuple[str, ...],
    *,
    first: str,
    whole: str,
    renamed: Mapping[str, str] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The form's rows of `kind` left in (not ticked "remove", not blank) as the API's list `api`, each row's item
    read by `item` from its boxes (their prefix `kind.i`); and where each path shows on the form: an item
    (`api[k]`) at its row's box `first`, each of its `fields` at the box of that name (`renamed`: of another), the
    list at the first row's box `whole`."""
    out: list[dict[str, Any]] = []
    shown = forms.items(form, kind, TYPED[kind])
    where = {api: f"{kind}.{shown[0]}.{whole}"}
    for i in shown:
        p = f"{kind}.{i}"
        if form.get(f"{p}.remove") or _blank(form, p, TYPED[kind]):
            continue
        a = f"{api}[{len(out)}]"
        where[a] = f"{p}.{first}"
        where |= {f"{a}.{f}": f"{p}.{f}" for f in fields}
        where |= {f"{a}.{f}": f"{p}.{box}" for f, box in (renamed or {}).items()}
        out.append(item(form, p))
    return out, where


def _blank(form: Mapping[str, str], prefix: str, fields: tuple[str, ...]) -> bool:
    return not any(form.get(f"{prefix}.{f}", "").strip() for f in fields)


# --- one assessor's scores: a grid of option x criterion ---------------------------------------------------------


def assessors(a: Appraisal) -> list[str]:
    """The assessors who have scored, in the order they first appear."""
    return list(dict.fromkeys(s.assessor for s in a.scores))


def scores_values(a: Appraisal, assessor: str | None) -> dict[str, str]:
    """One assessor's grid as the form shows it (None: a new assessor's, empty)."""
    values = {"version": str(a.version), "assessor": assessor or "", "assessor_was": assessor or ""}
    for s in a.scores:
        if assessor is not None and s.assessor == assessor:
            values[f"score.{s.option}.{s.criterion}"] = _s(s.score)
            values[f"rationale.{s.option}.{s.criterion}"] = s.rationale
    return values


def scores_body(form: Mapping[str, str], a: Appraisal) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The appraisal's scores with one assessor's replaced by the grid (`assessor_was`: whose the grid opened with;
    none for a new assessor): every other assessor's kept as held, the grid's in the places they were held in, new
    cells after. A cell left empty is no score."""
    was = form.get("assessor_was", "")
    name = _text(form, "assessor")
    grid = _grid(form, a, "score", "rationale")
    out: list[dict[str, Any]] = []
    where: dict[str, str] = {"assessor": "assessor"}

    def add(option: str, criterion: str, score: Any, rationale: str) -> None:
        k = f"scores[{len(out)}]"
        cell = f"score.{option}.{criterion}"
        where.update({k: cell, f"{k}.score": cell, f"{k}.option": cell, f"{k}.criterion": cell})
        where.update({f"{k}.assessor": "assessor", f"{k}.rationale": f"rationale.{option}.{criterion}"})
        out.append({"option": option, "criterion": criterion, "assessor": name, "score": score, "rationale": rationale})

    for s in a.scores:
        if was and s.assessor == was:
            if (cell := grid.pop((s.option, s.criterion), None)) is not None:
                add(s.option, s.criterion, *cell)
        else:
            out.append(
                {
                    "option": s.option,
                    "criterion": s.criterion,
                    "assessor": s.assessor,
                    "score": s.score,
                    "rationale": s.rationale,
                }
            )
    for (option, criterion), cell in grid.items():
        add(option, criterion, *cell)
    return out, where


def on_its_scale(
    problems: list[FieldProblem], body: Sequence[Mapping[str, Any]], a: Appraisal, part: str
) -> list[FieldProblem]:
    """A grid's problems with each score's range its own criterion's: the API reads every score as 0 to 10 (the
    widest scale) before it knows the criterion, so a box of a 0-5 criterion is told 0 to 5."""
    scales = {c.key: c.scale for c in a.criteria}
    out = []
    for p in problems:
        m = re.fullmatch(rf"{part}\[(\d+)\]\.score", p.field)
        k = int(m.group(1)) if m else -1
        scale = scales.get(body[k].get("criterion", "")) if 0 <= k < len(body) else None
        narrower = scale is not None and scale != 10 and "0 to 10" in p.problem
        out.append(msgspec.structs.replace(p, problem=p.problem.replace("0 to 10", f"0 to {scale}")) if narrower else p)
    return out


def _grid(form: Mapping[str, str], a: Appraisal, box: str, text: str) -> dict[tuple[str, str], tuple[Any, str]]:
    """The grid's filled cells, option by option, criterion by criterion: (score, its text) by (option, criterion).
    A cell with text but no score is a cell left without its score (the decoder says so beside it)."""
    found: dict[tuple[str, str], tuple[Any, str]] = {}
    for o in a.options:
        for c in a.criteria:
            score = _number(form, f"{box}.{o.key}.{c.key}", whole=False)
            said = _text(form, f"{text}.{o.key}.{c.key}")
            if score is not None or said:
                found[(o.key, c.key)] = (score, said)
    return found


def grid_labels(a: Appraisal, box: str, text: str, text_words: str) -> dict[str, str]:
    """A grid's cells as the error summary names them, row by row."""
    names = {c.key: c.name for c in a.criteria}
    labels: dict[str, str] = {"assessor": "Assessor’s name"} if box == "score" else {}
    for o in a.options:
        for c in a.criteria:
            labels[f"{box}.{o.key}.{c.key}"] = f"{option_label(o)} on {names[c.key]}: score"
            labels[f"{text}.{o.key}.{c.key}"] = f"{option_label(o)} on {names[c.key]}: {text_words}"
    return labels


def option_label(o: Any) -> str:
    return o.label or (f"Hosted by {o.partner}" if o.model == "hosted" and o.partner else MODEL_LABELS[o.model])


# --- moderated scores: the same grid ------------------------------------------------------------------------------


def moderation_values(a: Appraisal) -> dict[str, str]:
    values = {"version": str(a.version)}
    for m in a.moderation:
        values[f"moderated.{m.option}.{m.criterion}"] = _s(m.score)
        values[f"note.{m.option}.{m.criterion}"] = m.note
    return values


def moderation_body(form: Mapping[str, str], a: Appraisal) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The moderated scores from the grid, in the places the appraisal holds them, new ones after; a cell left
    empty has none."""
    grid = _grid(form, a, "moderated", "note")
    out: list[dict[str, Any]] = []
    where: dict[str, str] = {}

    def add(option: str, criterion: str, score: Any, note: str) -> None:
        k = f"moderation[{len(out)}]"
        cell = f"moderated.{option}.{criterion}"
        where.update({k: cell, f"{k}.score": cell, f"{k}.option": cell, f"{k}.criterion": cell})
        where[f"{k}.note"] = f"note.{option}.{criterion}"
        item: dict[str, Any] = {"option": option, "criterion": criterion, "score": score}
        if note:
            item["note"] = note  # required: left empty, the decoder says so beside the box
        out.append(item)

    for m in a.moderation:
        if (cell := grid.pop((m.option, m.criterion), None)) is not None:
            add(m.option, m.criterion, *cell)
    for (option, criterion), cell in grid.items():
        add(option, criterion, *cell)
    return out, where


# --- cost lines ---------------------------------------------------------------------------------------------------


def costs_values(a: Appraisal) -> dict[str, str]:
    values = {"version": str(a.version)}
    for i, line in enumerate(a.costs):
        p = f"cost.{i}"
        values |= {f"{p}.{f}": _s(getattr(line, f)) for f in COST}
    return values


def costs_body(form: Mapping[str, str]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    return _list_body(form, "cost", "costs", _cost_line, COST, first="amount", whole="option")


def _cost_line(form: Mapping[str, str], p: str) -> dict[str, Any]:
    item: dict[str, Any] = {"option": _text(form, f"{p}.option"), "category": _text(form, f"{p}.category")}
    for f, pounds in (("year", False), ("amount", True)):
        if (value := _number(form, f"{p}.{f}", whole=True, pounds=pounds)) is not None:
            item[f] = value  # required: left empty, the decoder says so beside the box
    item["note"] = _text(form, f"{p}.note")
    return item


COST_CATEGORIES = COST_LABELS

# --- the decision -------------------------------------------------------------------------------------------------

DECISION_LABELS = {"option": "Chosen option", "decided_by": "Who decided", "reasons": "Reasons"}


def decision_body(form: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    body = {"option": _text(form, "option"), "decided_by": _text(form, "decided_by"), "reasons": _text(form, "reasons")}
    return body, {k: k for k in DECISION_LABELS}


# --- a part removed while another part still refers to it ---------------------------------------------------------

_REFERS = re.compile(r"^(scores|moderation|costs)\[([0-9]+)\]\.(option|criterion)$")


def still_referred(
    problems: list[FieldProblem], a: Appraisal, part: str, values: Mapping[str, str]
) -> tuple[list[FieldProblem], list[FieldProblem]]:
    """On the options or criteria form, the service's problems with another part (`scores[3].option: no option
    'latc'`: the assessors' scores still refer to an option removed) said once beside the removed item's "remove"
    box (by its form name), naming the parts that still refer to it. The rest as they are (in the body's paths),
    then those."""
    kind = "option" if part == "options" else "criterion"
    prefix = kind if kind == "option" else "criterion"
    held_by = {
        v: k.removesuffix(".held") for k, v in values.items() if k.startswith(f"{prefix}.") and k.endswith(".held")
    }
    lists: dict[str, Sequence[Any]] = {"scores": a.scores, "moderation": a.moderation, "costs": a.costs}
    referring: dict[str, list[str]] = {}
    out: list[FieldProblem] = []
    for p in problems:
        m = _REFERS.match(p.field)
        if m is None or m.group(3) != kind:
            out.append(p)
            continue
        held = lists[m.group(1)]
        k = int(m.group(2))
        key = getattr(held[k], kind) if k < len(held) else None
        item = held_by.get(key) if isinstance(key, str) else None
        if item is None:
            out.append(p)
            continue
        found = referring.setdefault(item, [])
        if PART_NAMES[m.group(1)] not in found:
            found.append(PART_NAMES[m.group(1)])
    beside = []
    for item, parts in referring.items():
        said = (
            f"the {' and the '.join(parts)} still refer to it: clear them first (their own pages), then remove it, "
            "or keep it"
        )
        beside.append(FieldProblem(field=f"{item}.remove", problem=said))
    return out, beside
