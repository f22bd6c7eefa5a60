"""The provider's forms as form fields and back: a profile, a service and a response's partners, each turned into
the body the API's own PATCH (or PUT) takes, with where each of the body's field paths shows on the form
(`resources.premises[1].area` -> `premises.2.area`: an item's place in the body and on the form differ once one is
removed), so the API's problems go beside the right box.

Plain HTML, no script needed: a list of structured items (premises, outcomes records, partners) shows a fieldset per
item with a "remove" checkbox and one blank item to add; a group of checkboxes carries a hidden marker so that
ticking none clears the list; a part of the body the form does not carry is left as it is (as a PATCH leaves it)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, NamedTuple, TypeVar

import msgspec

import matching
from marketplace import formatting, messages
from marketplace.console.models import Change, FormState
from marketplace.engagement.models import DEFAULT_WORD_LIMIT, Question
from marketplace.exercises.models import MAX_LOCAL_PRIORITIES, Exercise, Need, SectorPreference
from marketplace.providers.models import Provider, Service
from marketplace.types import fold
from matching.weights import describe_percentages

PREMISES = ("area", "description")
OUTCOME = ("outcome", "measure", "period", "value", "people", "reference", "note")
PARTNER = ("provider_id", "name")
PRIORITY = ("text", "weight")
"""The boxes of a row of a list on a form: premises, an outcomes record, a partner, a need's local priority."""

PROFILE_LABELS = {
    "name": "Organisation name",
    "legal_form": "Legal form",
    "identifiers": "Register numbers",
    "description": "Description",
    "website": "Website",
    "founded_year": "Year founded",
    "contact.name": "Contact name",
    "contact.email": "Email address",
    "contact.phone": "Phone number",
    "finances.annual_income": "Annual income (£)",
    "finances.reserves_months": "Reserves (months of spending)",
    "finances.accounts_year_end": "Latest accounts: year end",
    "finances.accounts_scrutiny": "Latest accounts: scrutiny",
    "resources.volunteers": "Number of volunteers",
    "resources.match_funding_per_year": "Match funding a year (£)",
    "resources.other_funding_sources": "Other funding sources",
    "resources.partner_organisations": "Partner organisations",
    "resources.premises": "Premises",
    "accreditations": "Accreditations",
    "social_value": "Social value",
}
"""The profile's fields as a person reads them (as the form labels its boxes), in the form's order: in the error
summary, and in "what changed" after a conflict. Each premises item's boxes follow `resources.premises`."""
SERVICE_LABELS = {
    "name": "Service name",
    "description": "Description",
    "pathway": "Pathway",
    "status": "Status",
    "delivery_modes": "How it is delivered",
    "years_delivering": "Years delivering it",
    "accreditations": "Accreditations",
    "areas": "Areas served",
    "cohorts": "Who it is for",
    "eligibility.min_age": "Minimum age",
    "eligibility.max_age": "Maximum age",
    "eligibility.gender": "Men, women or both",
    "complexity_levels": "Complexity of need",
    "capacity.service_users_per_year": "People a year",
    "capacity.places_available": "Places available now",
    "capacity.places_as_of": "Places counted on",
    "cost": "Indicative cost",
    "cost.amount": "Indicative cost (£)",
    "cost.unit": "Cost per",
    "outcomes": "Outcomes records",
}
"""A service's fields as the service form labels them, in its order (each outcomes record's follow `outcomes`)."""

OUTCOME_LABELS = {
    "outcome": "outcome",
    "measure": "measure",
    "period": "period",
    "value": "figure",
    "people": "people",
    "source": "said by",
    "reference": "reference",
    "note": "note",
    "desired_outcomes": "desired outcomes",
}
SCRUTINY = {"audited": "Audited", "independently_examined": "Independently examined", "unscrutinised": "Neither"}
GENDERS = {"both": "Men and women", "men": "Men", "women": "Women"}
DELIVERY_MODES = {"in_person": "In person", "outreach": "Outreach", "remote": "Remote", "residential": "Residential"}
COMPLEXITY = {"low": "Low", "medium": "Medium", "high": "High"}
COST_UNITS = {
    "per_service_user": "per person",
    "per_place_per_year": "per place a year",
    "per_hour": "per hour",
    "per_session": "per session",
}
SOURCES = {
    "self_declared": "Ourselves",
    "independently_evaluated": "An independent evaluation",
    "commissioner_reported": "The commissioner",
}


def _s(value: Any) -> str:
    """A stored value as a box shows it: a float without a needless ".0" and never in e-notation (2300000, not
    2.3e+06: what is shown is what is saved again)."""
    if value is None:
        return ""
    if isinstance(value, float):
        return number(value)
    return str(value)


def number(value: float) -> str:
    """A float as a box shows it: plain digits, never e-notation (0.00001, not 1e-05; what is shown is saved again)."""
    return str(int(value)) if value.is_integer() else format(Decimal(repr(value)), "f")


ID_MOST = 999_999_999_999
"""The largest id the API takes (`http.Id`): a record's number on a form or in a link is from 1 to this."""
_WHOLE = re.compile(r"-?[0-9]{1,1000}")
_DECIMAL = re.compile(r"-?(?:[0-9]{1,1000}(?:\.[0-9]{0,1000})?|\.[0-9]{1,1000})")


def read_number(text: str, *, whole: bool = True) -> int | float | None:
    """A number as typed in a form (or given in a link): ASCII digits, a leading minus sign and, unless `whole`, one
    decimal point; None for anything else. The console's one way to read a number: Python's int() and float() also
    read `1_000`, `١٢٣` (Arabic-Indic digits), `１２` (fullwidth), ` +5 `, `1e3`, `nan` and `inf`, none of which is a
    number as someone types one. Whether it may be negative, and how large it may be, is the field's own to say
    (its bounds: "must be 0 or more" says more than "enter a whole number")."""
    if whole:
        return int(text) if _WHOLE.fullmatch(text) else None
    return float(text) if _DECIMAL.fullmatch(text) else None


def read_id(text: str) -> int | None:
    """A record's number (a provider's, a service's, the version a form was opened at) as a form or a link gives
    it: a whole number from 1 to ID_MOST (`read_number`), else None."""
    found = read_number(text)
    return found if isinstance(found, int) and 1 <= found <= ID_MOST else None


def quoted(typed: str) -> str:
    """What someone typed, as a problem quotes it: in quotes, cut after 20 characters."""
    return repr(typed) if len(typed) <= 20 else repr(typed[:20]) + "..."


def not_an_id(typed: str, whose: str) -> str:
    """What a problem says of `typed`, sent where the number of `whose` record ("a provider") belongs."""
    return f"{quoted(typed)} is not {whose}'s number (a whole number from 1 to {ID_MOST})"


def _nullable(form: Mapping[str, str], name: str) -> str | None:
    return form.get(name, "").strip() or None


_THOUSANDS = re.compile(r"-?[1-9][0-9]{0,2}(,[0-9]{3})+(\.[0-9]+)?")
"""A number written with thousands commas in their places (`1,800`, `12,500.50`)."""


def without_thousands(text: str) -> str:
    """A number as typed, less thousands commas in their places (`12,500.50` -> `12500.50`). A comma anywhere else
    (`12,50`: a decimal comma?) is left, so the box is refused, never read as another number."""
    return text.replace(",", "") if _THOUSANDS.fullmatch(text) else text


def money(text: str | None) -> str | None:
    """Pounds as typed, less the pound sign and thousands commas in their places (`£1,800` -> `1800`)."""
    if text is None:
        return None
    return without_thousands(text.replace("£", "").strip())


def as_number(text: str | None, *, whole: bool) -> int | float | str | None:
    """A number box's value as the body takes it: the number typed (`read_number`), or the text as typed when it is
    not one, which the API's decoder, reading a form strictly (`service.decode_form`), refuses beside the box with
    what to type ("enter a whole number, for example 25"); never read leniently into a number (`1e3`, `1.0`)."""
    if text is None:
        return None
    found = read_number(text, whole=whole)
    return text if found is None else found


def _codes(text: str) -> list[str]:
    return [c for c in re.split(r"[\s,]+", text.strip()) if c]


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


# --- areas, by name ----------------------------------------------------------------------------------------------


def _area_key(text: str) -> str:
    """An area's name or code as the console compares them: case, accents, punctuation and "&" for "and" aside."""
    return " ".join(re.findall(r"\w+", fold(text).replace("&", " and ")))


_WITH_CODE = re.compile(r"^(.*?)\s*\(\s*([A-Za-z][0-9]{8})\s*\)$")
"""An area written with its code after it in brackets, as a box shows one whose name another area shares."""


def _by_name(names: Mapping[str, str]) -> dict[str, list[str]]:
    """The taxonomy's areas by their names as compared (`_area_key`): a name's codes (two where areas share it)."""
    found: dict[str, list[str]] = {}
    for code, name in names.items():
        found.setdefault(_area_key(name), []).append(code)
    return found


def area_codes(text: str, names: Mapping[str, str]) -> list[str]:
    """The areas a box names (`names`: the taxonomy's, code -> name), one a line or several to a line separated by
    commas (codes by spaces too), each by its name or its code, whatever the case, accents or punctuation, or as a
    box shows one whose name another shares, its code after it in brackets ("Cumbria (E10000006)"): their codes, in
    the order typed. One that names no area, a name two areas share without its code, or a name and a code of
    different areas, is kept as typed, for the API to refuse (said in the console's words by `area_problems`)."""
    by_name = _by_name(names)
    known = {k: codes[0] for k, codes in by_name.items() if len(codes) == 1} | {_area_key(c): c for c in names}

    def code_of(piece: str) -> str:
        if (m := _WITH_CODE.match(piece)) and (code := m.group(2).upper()) in names:
            named = m.group(1)
            return code if not named or code in by_name.get(_area_key(named), []) else piece
        return known.get(_area_key(piece), piece)

    def codes_in(piece: str) -> list[str]:
        if (code := code_of(piece)) in names:
            return [code]
        spaced = [c.upper() for c in piece.split()]  # codes separated by spaces, as the box took them before names
        return spaced if len(spaced) > 1 and all(c in names for c in spaced) else [piece]

    codes: list[str] = []
    for line in _lines(text):
        if (whole := code_of(line)) in names:
            codes.append(whole)
            continue
        for piece in (p.strip() for p in line.split(",")):
            codes += codes_in(piece) if piece else []
    return codes


def area_lines(codes: Sequence[str], names: Mapping[str, str]) -> str:
    """Areas as a box shows them: by name, one a line (with the code in brackets where two areas share the name)."""
    by_name = _by_name(names)

    def shown(code: str) -> str:
        name = names.get(code)
        if name is None:
            return code
        return name if len(by_name[_area_key(name)]) == 1 else f"{name} ({code})"

    return "\n".join(shown(c) for c in codes)


_NOT_AN_AREA = re.compile(
    r"^(?P<typed>'.*'|\".*\") is not an area code: [^;]*(?:; did you mean (?P<code>\S+) \((?P<name>.+)\)\?)?$"
)


def area_problems(problems: list[Any], names: Mapping[str, str]) -> list[Any]:
    """The API's problems with areas typed in a box that takes them by name (`area_codes`), in that box's words: an
    area the directory does not know, with the closest by name (and its code); a name two areas share, with each
    as the box takes it. The others as they are."""
    by_name = _by_name(names)
    said = []
    for problem in problems:
        if (m := _NOT_AN_AREA.match(problem.problem)) is None:
            said.append(problem)
            continue
        shared = by_name.get(_area_key(m["typed"][1:-1]), [])
        if len(shared) > 1:
            which = " or ".join(f"{names[c]} ({c})" for c in shared)
            told = f"{m['typed']} is the name of {len(shared)} areas: write the one you mean as {which}"
        else:
            told = f"{m['typed']} is not an area the directory knows: type the area's name, or its ONS code"
            told += f"; did you mean {m['name']} ({m['code']})?" if m["code"] else ""
        said.append(msgspec.structs.replace(problem, problem=told))
    return said


def _ticked(form: Mapping[str, str], prefix: str) -> list[str]:
    """The values of a group of checkboxes (`accreditations.iso_9001` ticked -> `iso_9001`), in the form's order."""
    return [k.removeprefix(prefix) for k, v in form.items() if k.startswith(prefix) and v and len(k) < 200]


def _set(body: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for p in parents:
        body = body.setdefault(p, {})
    body[last] = value


def items(values: Mapping[str, str], prefix: str, fields: tuple[str, ...]) -> list[int]:
    """The items of a list on the form (`outcomes.0.`, `outcomes.3.`...), by their number on the form, and one blank
    item after them to add one (unless the last is blank already)."""
    found = sorted({int(m.group(1)) for k in values if (m := re.match(rf"^{re.escape(prefix)}\.([0-9]{{1,3}})\.", k))})
    if not found or any(values.get(f"{prefix}.{found[-1]}.{f}", "").strip() for f in fields):
        found.append(found[-1] + 1 if found else 0)
    return found


def _blank(form: Mapping[str, str], prefix: str, fields: tuple[str, ...]) -> bool:
    return not any(form.get(f"{prefix}.{f}", "").strip() for f in fields)


def _in_order(ticked: list[str], held: list[str]) -> list[str]:
    return sorted(ticked, key=lambda c: held.index(c) if c in held else len(held))


def keep_order(body: dict[str, Any], current: Any, groups: tuple[str, ...], where: Mapping[str, str]) -> None:
    """Codes ticked in a group of checkboxes (shown in the taxonomy's order) in the order the record holds them,
    new ones after, an outcomes record's desired outcomes too: saving a form as it opened changes nothing."""
    for group in groups:
        if isinstance(ticked := body.get(group), list):
            body[group] = _in_order(ticked, list(getattr(current, group)))
    held = getattr(current, "outcomes", [])
    for k, record in enumerate(body.get("outcomes") or []):
        i = int(where[f"outcomes[{k}]"].split(".")[1])  # the record's number on the form: as opened, as held
        if i < len(held):
            record["desired_outcomes"] = _in_order(record["desired_outcomes"], held[i].desired_outcomes)


# --- the profile ---------------------------------------------------------------------------------------------

PROFILE_REQUIRED = ("name", "legal_form", "description")
PROFILE_NULLABLE = (
    "website",
    "founded_year",
    "contact.name",
    "contact.email",
    "contact.phone",
    "finances.annual_income",
    "finances.reserves_months",
    "finances.accounts_year_end",
    "finances.accounts_scrutiny",
)
PROFILE_GROUPS = ("accreditations", "social_value")
PROFILE_KEPT = ("resources.volunteers", "resources.match_funding_per_year")
"""Numbers that cannot be cleared: left empty, they stay as they are."""
MONEY = ("finances.annual_income", "resources.match_funding_per_year", "cost.amount", "need.annual_budget")
NUMBERS = {
    "founded_year": True,
    "resources.volunteers": True,
    "resources.match_funding_per_year": True,
    "finances.annual_income": True,
    "finances.reserves_months": False,
    "eligibility.min_age": True,
    "eligibility.max_age": True,
    "capacity.service_users_per_year": True,
    "capacity.places_available": True,
    "years_delivering": True,
    "cost.amount": False,
    "need.annual_volume": True,
    "need.annual_budget": True,
    "need.contract_years": False,
    "need.min_years_experience": True,
    "need.eligibility.min_age": True,
    "need.eligibility.max_age": True,
    **{f"need.sector_preference.{c}": False for c in SectorPreference.__struct_fields__},
}
"""The number boxes of the profile and service forms, by field: True, a whole number; False, one with a decimal
point allowed (an outcomes record's figure and people are read in `service_body`)."""


def _box(form: Mapping[str, str], name: str) -> Any:
    """A box's value for the body, empty as None: money less its pound sign and commas, a number box's number
    (thousands commas in their places aside: 1,200 people)."""
    value = _nullable(form, name)
    if name in MONEY:
        value = money(value)
    if name not in NUMBERS or value is None:
        return value
    return as_number(without_thousands(value), whole=NUMBERS[name])


def profile_values(p: Provider, areas: Mapping[str, str]) -> dict[str, str]:
    """A stored profile as the form shows it (`areas`: the taxonomy's names, a premises' area shown by name)."""
    values = {
        "name": p.name,
        "legal_form": p.legal_form,
        "identifiers": ", ".join(p.identifiers),
        "description": p.description,
        "website": _s(p.website),
        "founded_year": _s(p.founded_year),
        "contact.name": _s(p.contact.name),
        "contact.email": _s(p.contact.email),
        "contact.phone": _s(p.contact.phone),
        "resources.volunteers": _s(p.resources.volunteers),
        "resources.match_funding_per_year": _s(p.resources.match_funding_per_year),
        "resources.other_funding_sources": "\n".join(p.resources.other_funding_sources),
        "resources.partner_organisations": "\n".join(p.resources.partner_organisations),
        "finances.annual_income": _s(p.finances.annual_income),
        "finances.reserves_months": _s(p.finances.reserves_months),
        "finances.accounts_year_end": _s(p.finances.accounts_year_end),
        "finances.accounts_scrutiny": _s(p.finances.accounts_scrutiny),
        "version": str(p.version),
    }
    for i, x in enumerate(p.resources.premises):
        values |= {f"premises.{i}.area": area_lines([x.area], areas), f"premises.{i}.description": x.description}
    values |= {f"accreditations.{c}": "on" for c in p.accreditations}
    values |= {f"social_value.{c}": "on" for c in p.social_value}
    return values


def _scalars(
    form: Mapping[str, str], required: Sequence[str], nullable: Sequence[str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The form's plain boxes as a body (only those it carries: a required one as typed, a nullable one empty =
    null, money in whole pounds) and where each shows on the form."""
    body: dict[str, Any] = {}
    where: dict[str, str] = {}
    for name in required:
        if name in form:
            _set(body, name, form[name].strip())
            where[name] = name
    for name in nullable:
        if name in form:
            _set(body, name, _box(form, name))
            where[name] = name
    return body, where


def profile_body(form: Mapping[str, str], areas: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The profile form as a PATCH /providers/{id} body (only what the form carries), and where each of the body's
    field paths shows on the form (`areas`: the taxonomy's names, a premises' area typed by name)."""
    body, where = _scalars(form, PROFILE_REQUIRED, PROFILE_NULLABLE)
    for name in PROFILE_KEPT:
        if (value := _box(form, name)) is not None:
            _set(body, name, value)
            where[name] = name
    if "identifiers" in form:
        body["identifiers"] = _codes(form["identifiers"])
        where["identifiers"] = "identifiers"
    for name in ("resources.other_funding_sources", "resources.partner_organisations"):
        if name in form:
            _set(body, name, _lines(form[name]))
            where[name] = name
    for group in ("accreditations", "social_value"):
        if group in form:  # the group's marker: none ticked clears it
            body[group] = _ticked(form, f"{group}.")
            where[group] = group
    if "premises" in form:
        premises: list[dict[str, str]] = []
        for i in items(form, "premises", PREMISES):
            p = f"premises.{i}"
            if form.get(f"{p}.remove") or _blank(form, p, PREMISES):
                continue
            a = f"resources.premises[{len(premises)}]"
            where |= {a: f"{p}.area", f"{a}.area": f"{p}.area", f"{a}.description": f"{p}.description"}
            area = form.get(f"{p}.area", "").strip()
            named = area_codes(area, areas)
            place = {"area": named[0] if len(named) == 1 else area, "description": form.get(f"{p}.description", "")}
            premises.append({f: v.strip() for f, v in place.items()})
        _set(body, "resources.premises", premises)
        where["resources.premises"] = f"premises.{items(form, 'premises', PREMISES)[0]}.area"
    return body, where


def profile_labels(values: Mapping[str, str]) -> dict[str, str]:
    """The profile form's fields by name as the form labels them, in the form's order, a premises item's too."""
    labels: dict[str, str] = {}
    for name, label in PROFILE_LABELS.items():
        labels[name] = label
        if name == "resources.premises":
            for i in items(values, "premises", PREMISES):
                labels[f"premises.{i}.area"] = f"Premises {i + 1}: area"
                labels[f"premises.{i}.description"] = f"Premises {i + 1}: what it is"
    return labels


# --- a service -------------------------------------------------------------------------------------------------

SERVICE_REQUIRED = ("name", "description", "pathway", "status", "eligibility.gender")
SERVICE_NULLABLE = (
    "eligibility.min_age",
    "eligibility.max_age",
    "capacity.service_users_per_year",
    "capacity.places_available",
    "capacity.places_as_of",
)
SERVICE_GROUPS = ("cohorts", "delivery_modes", "complexity_levels", "accreditations")


def service_values(s: Service, profile_version: int, areas: Mapping[str, str]) -> dict[str, str]:
    """A stored service as the form shows it (`areas`: the taxonomy's names, its areas shown by name)."""
    values = {
        "name": s.name,
        "description": s.description,
        "pathway": s.pathway,
        "status": s.status,
        "areas": area_lines(s.areas, areas),
        "eligibility.min_age": _s(s.eligibility.min_age),
        "eligibility.max_age": _s(s.eligibility.max_age),
        "eligibility.gender": s.eligibility.gender,
        "capacity.service_users_per_year": _s(s.capacity.service_users_per_year),
        "capacity.places_available": _s(s.capacity.places_available),
        "capacity.places_as_of": _s(s.capacity.places_as_of),
        "years_delivering": _s(s.years_delivering),
        "cost.amount": _s(s.cost.amount) if s.cost else "",
        "cost.unit": s.cost.unit if s.cost else "",
        "version": str(s.version),
        "profile_version": str(profile_version),
    }
    for group in SERVICE_GROUPS:
        values |= {f"{group}.{c}": "on" for c in getattr(s, group)}
    for i, o in enumerate(s.outcomes):
        p = f"outcomes.{i}"
        values |= {f"{p}.{f}": _s(getattr(o, f)) for f in OUTCOME}
        values[f"{p}.source"] = o.source
        values |= {f"{p}.desired.{c}": "on" for c in o.desired_outcomes}
    return values


def service_body(form: Mapping[str, str], areas: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The service form as a PATCH /providers/{id}/services/{sid} body (only what the form carries), and where each
    of the body's field paths shows on the form (`areas`: the taxonomy's names, the areas typed by name)."""
    body, where = _scalars(form, SERVICE_REQUIRED, SERVICE_NULLABLE)
    if (years := _box(form, "years_delivering")) is not None:
        body["years_delivering"] = years
        where["years_delivering"] = "years_delivering"
    if "areas" in form:
        body["areas"] = area_codes(form["areas"], areas)
        where["areas"] = "areas"
    for group in SERVICE_GROUPS:
        if group in form:
            body[group] = _ticked(form, f"{group}.")
            where[group] = group
    if "cost.amount" in form:
        amount, unit = _box(form, "cost.amount"), _nullable(form, "cost.unit")
        cost: dict[str, Any] = {}
        if amount is not None:
            cost["amount"] = amount
        if unit is not None:
            cost["unit"] = unit
        body["cost"] = cost or None
        where |= {"cost": "cost.amount", "cost.amount": "cost.amount", "cost.unit": "cost.unit"}
    if "outcomes" in form:
        outcomes: list[dict[str, Any]] = []
        shown = items(form, "outcomes", OUTCOME)
        for i in shown:
            p = f"outcomes.{i}"
            desired = _ticked(form, f"{p}.desired.")
            if form.get(f"{p}.remove") or (_blank(form, p, OUTCOME) and not desired):
                continue
            a = f"outcomes[{len(outcomes)}]"
            where[a] = f"{p}.outcome"
            where |= {f"{a}.{f}": f"{p}.{f}" for f in (*OUTCOME, "source")}
            where[f"{a}.desired_outcomes"] = f"{p}.desired_outcomes"
            record: dict[str, Any] = {f: form.get(f"{p}.{f}", "").strip() for f in ("outcome", "measure", "period")}
            record["value"] = as_number(money(_nullable(form, f"{p}.value")), whole=False)
            record["people"] = as_number(money(_nullable(form, f"{p}.people")), whole=True)
            record["source"] = form.get(f"{p}.source", "self_declared")
            record["reference"] = _nullable(form, f"{p}.reference")
            record["note"] = _nullable(form, f"{p}.note")
            record["desired_outcomes"] = desired
            outcomes.append(record)
        body["outcomes"] = outcomes
        where["outcomes"] = f"outcomes.{shown[0]}.outcome"
    return body, where


def service_labels(values: Mapping[str, str]) -> dict[str, str]:
    """The service form's fields by name as the form labels them, in the form's order, an outcomes record's too."""
    labels = dict(SERVICE_LABELS)
    for i in items(values, "outcomes", OUTCOME):
        labels |= {f"outcomes.{i}.{f}": f"Outcomes record {i + 1}: {w}" for f, w in OUTCOME_LABELS.items()}
    return labels


_DESIRED = re.compile(r"^outcomes\[[0-9]+\]\.desired_outcomes\[[0-9]+\]$")


def desired_in_words(problems: list[Any], body: Mapping[str, Any], pathway: str, taxonomy: Any) -> list[Any]:
    """An outcomes record's desired outcome of another pathway than the service's (`pathway`, the one the form
    sent or else the one held) said by the taxonomy's names, as a form says it ("“Engages with treatment” is an
    outcome of the Drugs and alcohol pathway, not of Health"), never by their codes."""
    pathways = taxonomy.codes("pathways")
    of = {d.code: d for d in taxonomy.desired_outcomes}
    out = []
    for p in problems:
        code = messages.value_at(body, p.field) if _DESIRED.match(p.field) else None
        d = of.get(code) if isinstance(code, str) else None
        if d is not None and d.pathway != pathway:
            theirs, ours = pathways.get(d.pathway, d.pathway), pathways.get(pathway, pathway)
            said = f"“{d.name}” is an outcome of the {theirs} pathway, not of {ours}: untick it, or keep {theirs}"
            out.append(msgspec.structs.replace(p, problem=said))
        else:
            out.append(p)
    return out


# --- a response's partners ----------------------------------------------------------------------------------


def partners_body(
    form: Mapping[str, str], need_prefix: str, body_prefix: str, where: dict[str, str]
) -> list[dict[str, Any]]:
    """One need's partners on the response form (`need.7.partner.0.name`) as the body's `partners`, noting in
    `where` where each shows (`needs[0].partners[1]` -> `need.7.partner.2.provider_id`)."""
    found: list[dict[str, Any]] = []
    prefix = f"{need_prefix}.partner"
    shown = items(form, prefix, PARTNER)
    for i in shown:
        p = f"{prefix}.{i}"
        if form.get(f"{p}.remove") or _blank(form, p, PARTNER):
            continue
        a = f"{body_prefix}.partners[{len(found)}]"
        where |= {a: f"{p}.provider_id", f"{a}.provider_id": f"{p}.provider_id", f"{a}.name": f"{p}.name"}
        partner: dict[str, Any] = {}
        if (pid := _nullable(form, f"{p}.provider_id")) is not None:
            partner["provider_id"] = as_number(pid, whole=True)
        if (name := _nullable(form, f"{p}.name")) is not None:
            partner["name"] = name
        found.append(partner)
    where[f"{body_prefix}.partners"] = f"{prefix}.{shown[0]}.provider_id"
    return found


def partner_values(need_prefix: str, partners: list[Any]) -> dict[str, str]:
    values: dict[str, str] = {}
    for i, x in enumerate(partners):
        values[f"{need_prefix}.partner.{i}.provider_id"] = _s(x.provider_id)
        values[f"{need_prefix}.partner.{i}.name"] = _s(x.name)
    return values


API_WORDS = {
    "give either provider_id (a directory provider) or name": (
        "give either a directory provider's number or the name of an organisation outside the directory, not both"
    ),
    "expected a number": "enter a number, for example 12.5",
    "before opens_on": "must be on or after the day it opens",
}
"""The API's words that name its JSON fields or types, as the form says them (a number question's answer box is told
what every number box is told)."""


def as_form_words(problem: str) -> str:
    """An API problem as a form says it: what a box expects is what to enter ("expected a whole number from 0 to 50"
    -> "enter a whole number from 0 to 50", a number question's own rule); a need's field the API's rules name
    (`annual_volume`) as its box is labelled."""
    problem = problem.replace("annual_volume", "“Service users a year”")
    return "enter " + problem.removeprefix("expected ") if problem.startswith("expected a ") else problem


# --- after a conflict ------------------------------------------------------------------------------------------


def shown(value: Any, words: Mapping[str, str] | None = None) -> str:
    """A value from the history as a person reads it: codes by their names (`words`), lists joined, records by their
    parts, never JSON."""
    if value is None or value == "":
        return "(empty)"
    if isinstance(value, list):
        return "; ".join(shown(v, words) for v in value) if value else "(none)"
    if isinstance(value, dict):
        return " · ".join(shown(v, words) for v in value.values() if v not in (None, "", [], {})) or "(empty)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str) and words:
        return words.get(value, value)
    return _s(value)


def vocabularies(taxonomy: Any) -> dict[str, dict[str, str]]:
    """The names of the codes a changed field may hold, by field (for `labelled`)."""
    outcomes = {**SOURCES, **{d.code: d.name for d in taxonomy.desired_outcomes}}
    return {
        "legal_form": taxonomy.codes("legal_forms"),
        "accreditations": taxonomy.codes("accreditations"),
        "social_value": taxonomy.codes("social_value"),
        "finances.accounts_scrutiny": SCRUTINY,
        "pathway": taxonomy.codes("pathways"),
        "cohorts": taxonomy.codes("cohorts"),
        "areas": taxonomy.codes("areas"),
        "eligibility.gender": GENDERS,
        "delivery_modes": DELIVERY_MODES,
        "complexity_levels": COMPLEXITY,
        "cost.unit": COST_UNITS,
        "cost": COST_UNITS,
        "outcomes": outcomes,
    }


def labelled(
    changes: list[Change], labels: Mapping[str, str], words: Mapping[str, Mapping[str, str]] | None = None
) -> list[Change]:
    """Changes with plain labels (`finances.annual_income` -> "Annual income (£)") and values in words (a cost's
    unit `per_hour` -> "per hour")."""
    out = []
    for c in changes:
        w = (words or {}).get(c.field)
        out.append(
            msgspec.structs.replace(
                c, field=labels.get(c.field, c.field), before=shown(c.before, w), after=shown(c.after, w)
            )
        )
    return out


def as_opened(current: Any, changes: list[Change]) -> dict[str, Any]:
    """The record (as JSON builtins) as it was when the form was opened: the current one with every change since
    undone, newest first."""
    doc: dict[str, Any] = msgspec.to_builtins(current)
    for c in reversed(changes):
        *parents, last = c.field.split(".")
        target: Any = doc
        for p in parents:
            target = target.get(p) if isinstance(target, dict) else None
        if isinstance(target, dict) and "[" not in c.field:
            target[last] = c.before
    return doc


def take_theirs(values: dict[str, str], opened: Mapping[str, str], current: Mapping[str, str]) -> None:
    """After a conflict: a field someone else changed that this form left as it was opened now shows their value
    (so saving again does not undo their change); where both changed a field, the form keeps what was typed."""
    for k in set(opened) | set(current):
        if k in ("version", "profile_version"):
            continue
        mine, was, now = values.get(k, "").strip(), opened.get(k, "").strip(), current.get(k, "").strip()
        if mine == was and now != was:
            values[k] = current.get(k, "")


R = TypeVar("R", Provider, Service)


def after_conflict(
    values: dict[str, str],
    held: R,
    changes: list[Change],
    kind: type[R],
    values_of: Callable[[R], dict[str, str]],
    labels_of: Callable[[Mapping[str, str]], dict[str, str]],
    versions: Mapping[str, str],
    taxonomy: Any,
) -> tuple[FormState, list[Change]]:
    """After a 412 on saving a profile or a service: the record as the form opened it is rebuilt from the one
    `held` now and the `changes` since, their changes shown where the form left a field as opened (`take_theirs`;
    a history that does not rebuild the record leaves the form as typed), the form's `versions` made current, and
    the changes labelled as the form names its fields."""
    try:
        opened = msgspec.convert(as_opened(held, changes), kind, strict=False)
        take_theirs(values, values_of(opened), values_of(held))
    except msgspec.ValidationError:
        pass
    values.update(versions)
    labels = labels_of(values)
    return FormState(values=values, labels=labels), labelled(changes, labels, vocabularies(taxonomy))


# --- an exercise, started or changed ------------------------------------------------------------------------------

EXERCISE_LABELS = {
    "title": "Title",
    "commissioning_body": "Commissioning body",
    "description": "Description",
    "opens_on": "Opens on",
    "closes_on": "Closes on",
}
"""The exercise form's fields, in its order: the API's ExerciseIn fields of the same names (after `exercise.` on
the exercise's own page, where other forms share the page's names)."""

EXERCISE_DATES = ("opens_on", "closes_on")


def exercise_body(form: Mapping[str, str], prefix: str = "") -> tuple[dict[str, Any], dict[str, str]]:
    """The exercise form as ExerciseIn's body (a date left empty left out: none), and where each field shows."""
    body = {n: v for n in EXERCISE_LABELS if (v := form.get(prefix + n, "")) or n not in EXERCISE_DATES}
    return body, {n: prefix + n for n in EXERCISE_LABELS}


def exercise_values(e: Exercise) -> dict[str, str]:
    """A stored exercise as the form changing it shows it (`exercise.`), with the version it was read at."""
    values = {
        "exercise.title": e.title,
        "exercise.commissioning_body": e.commissioning_body,
        "exercise.description": e.description,
        "exercise.version": str(e.version),
    }
    return values | {f"exercise.{n}": _s(getattr(e, n)) for n in EXERCISE_DATES}


# --- criteria weights: an exercise's default, a need's own --------------------------------------------------------

WEIGHT_LABELS = {f"weights.{c}": formatting.humanise(c) for c in matching.CRITERIA}
"""The weights form's boxes, a percentage a criterion of the matching core's, in its order."""
STANDARD_WEIGHTS = describe_percentages(matching.DEFAULT_WEIGHTS)
"""The weights a need is matched with when neither it nor its exercise has any, in words."""


def weights_body(form: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The weights form as a table of percentages (a box left empty left out: it counts 0; every box empty, no
    table), and where each criterion's shows."""
    given = {
        c: as_number(without_thousands(v), whole=False)
        for c in matching.CRITERIA
        if (v := _nullable(form, f"weights.{c}"))
    }
    return given, {c: f"weights.{c}" for c in matching.CRITERIA}


def weights_refused(given: Mapping[str, float]) -> str:
    """What the weights form says of percentages that do not add up to 100: their total, and the criteria given
    scaled to 100 (as the API's message, without the criteria left at 0 or the defaults)."""
    total = sum(given.values())
    said = f"these add up to {total:.4g}, not 100"
    scaled = [(c, v * 100 / total) for c, v in given.items() if v] if total > 0 else []
    shown = ", ".join(f"{formatting.humanise(c).lower()} {p:.3g}%" for c, p in scaled if round(p, 1) > 0)
    return f"{said}: scaled to 100 they would be {shown}" if shown else said


def weights_values(given: Mapping[str, float]) -> dict[str, str]:
    """A stored table of percentages as the weights form shows it."""
    return {f"weights.{c}": _s(v) for c, v in given.items()}


# --- a need added to an exercise, or changed ---------------------------------------------------------------------

NEED_LABELS = {
    "need.title": "Need",
    "need.pathway": "Pathway",
    "need.areas": "Areas",
    "need.annual_volume": "Service users a year",
    "need.annual_budget": "Budget a year",
    "need.contract_years": "Contract length in years",
    "need.cohorts": "Who it is for",
    "need.eligibility.min_age": "Minimum age",
    "need.eligibility.max_age": "Maximum age",
    "need.eligibility.gender": "Men, women or both",
    "need.min_years_experience": "Years of experience required",
    "need.required_accreditations": "Accreditations required",
    **{
        f"need.local_priorities.{i}.{f}": f"Local priority {i + 1}" + (": weight" if f == "weight" else "")
        for i in range(MAX_LOCAL_PRIORITIES + 1)
        for f in PRIORITY
    },
    "need.desired_outcomes": "Desired outcomes",
    **{
        f"need.sector_preference.{c}": f"Preference for {formatting.humanise(c).lower()}"
        for c in SectorPreference.__struct_fields__
    },
}
"""The need form's boxes, in its order (each the API's NeedIn field, or a part of one, after `need.`; a local
priority's, one row each, up to the most a need may have and a blank row over)."""
NEED_FIELDS = tuple(dict.fromkeys(label.removeprefix("need.").partition(".")[0] for label in NEED_LABELS))
"""The NeedIn fields the need form sets, whole."""
NEED_CHANGED = (*NEED_FIELDS, "area_volumes")
"""The NeedIn fields the form changing a need sets, whole (it has a box per area for the volumes by area): the
rest are kept as they are."""


def need_labels(values: Mapping[str, str], areas: Mapping[str, str]) -> dict[str, str]:
    """The form changing a need: its boxes (`NEED_LABELS`) and its volume-by-area boxes, each named by its area."""
    volumes = {
        k: f"Service users a year in {areas.get(k.removeprefix(_VOLUME), k.removeprefix(_VOLUME))}"
        for k in values
        if k.startswith(_VOLUME)
    }
    labels: dict[str, str] = {}
    for name, label in NEED_LABELS.items():
        labels[name] = label
        if name == "need.annual_volume":  # the boxes follow it on the form
            labels |= {"need.area_volumes": "Service users a year by area"} | volumes
    return labels


_VOLUME = "need.area_volumes."


class VolumeGroup(NamedTuple):
    """Boxes of the need form's service users a year shown together: one of the need's areas and every area within
    it (`name`, the area's), a run of the need's areas with none within them (`name` None), or the areas the form
    holds a figure for that are no longer the need's (`name` LEFT_OVER)."""

    name: str | None
    areas: list[Any]


LEFT_OVER = "No longer among the need’s areas"


def volume_areas(
    need_areas: Sequence[str], taxonomy_areas: Sequence[Any], values: Mapping[str, str]
) -> list[VolumeGroup]:
    """The areas the form changing a need asks service users a year for, in groups: each of the need's areas
    followed by every area within it (the API takes a figure for any of them), as a tree is read; then any area the
    form holds a figure for already (a stored one, or one typed) that is no longer among them, so that none is
    dropped unseen. Each is the taxonomy's area (or its code, for one the taxonomy does not hold)."""
    within: dict[str | None, list[Any]] = {}
    for a in taxonomy_areas:
        within.setdefault(a.parent, []).append(a)
    by_code = {a.code: a for a in taxonomy_areas}
    shown: set[str] = set()
    groups: list[VolumeGroup] = []

    def take(area: Any, into: list[Any]) -> None:
        if area.code not in shown:
            shown.add(area.code)
            into.append(area)
            for child in within.get(area.code, []):
                take(child, into)

    for code in need_areas:
        if code in by_code:
            tree: list[Any] = []
            take(by_code[code], tree)
            if len(tree) > 1:
                groups.append(VolumeGroup(tree[0].name, tree))
            elif tree and groups and groups[-1].name is None:
                groups[-1].areas.extend(tree)
            elif tree:
                groups.append(VolumeGroup(None, tree))
    left = [
        by_code.get(code, code)
        for k, v in values.items()
        if k.startswith(_VOLUME) and v.strip() and (code := k.removeprefix(_VOLUME)) not in shown
    ]
    return groups + ([VolumeGroup(LEFT_OVER, left)] if left else [])


def need_values(n: Need, areas: Mapping[str, str]) -> dict[str, str]:
    """A stored need as the form changing it shows it, with the version it was read at (`areas`: the taxonomy's
    names, its areas shown by name)."""
    values = {
        "need.title": n.title,
        "need.pathway": n.pathway,
        "need.areas": area_lines(n.areas, areas),
        "need.annual_volume": _s(n.annual_volume),
        "need.annual_budget": f"{n.annual_budget:,}",
        "need.contract_years": _s(n.contract_years),
        "need.eligibility.min_age": _s(n.eligibility.min_age),
        "need.eligibility.max_age": _s(n.eligibility.max_age),
        "need.eligibility.gender": n.eligibility.gender,
        "need.min_years_experience": _s(n.min_years_experience or None),
        **{f"need.desired_outcomes.{c}": "on" for c in n.desired_outcomes},
        **{f"need.sector_preference.{c}": _s(v or None) for c in SECTORS if (v := getattr(n.sector_preference, c))},
        "need.version": str(n.version),
    }
    values |= {f"need.cohorts.{c}": "on" for c in n.cohorts}
    for i, p in enumerate(n.local_priorities):
        values |= {f"need.local_priorities.{i}.text": _words(p.text), f"need.local_priorities.{i}.weight": _s(p.weight)}
    values |= {f"{_VOLUME}{c}": _s(v) for c, v in (n.area_volumes or {}).items()}
    return values | {f"need.required_accreditations.{c}": "on" for c in n.required_accreditations}


def priority_rows(values: Mapping[str, str]) -> list[int]:
    """The local priorities' rows the need form shows: those it holds, and blank ones after them to add more (three
    rows at least, one blank at least), up to one more than a need may have (so that too many is said, not lost)."""
    rows = items(values, "need.local_priorities", PRIORITY)
    while len(rows) < 3:
        rows.append(rows[-1] + 1)
    return rows[: MAX_LOCAL_PRIORITIES + 1]


_AGES = ("eligibility.min_age", "eligibility.max_age")
SECTORS = SectorPreference.__struct_fields__
"""The sectors a need may prefer, in the API's order."""
_PREFERENCES = tuple(f"sector_preference.{c}" for c in SECTORS)


def need_body(form: Mapping[str, str], areas: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The need form as POST /exercises/{id}/needs' body, and where each of its fields shows on the form (`areas`:
    the taxonomy's names, the areas typed by name). A box left empty is left out: the API's default (a required one
    said missing, beside its box); a local priority's row left empty is no priority; the volume-by-area boxes (on
    the form changing a need) all empty, none."""
    body: dict[str, Any] = {
        "title": form.get("need.title", "").strip(),
        "pathway": form.get("need.pathway", "").strip(),
        "areas": area_codes(form.get("need.areas", ""), areas),
        "cohorts": _ticked(form, "need.cohorts."),
        "eligibility": {"gender": form.get("need.eligibility.gender", "").strip() or "both"},
        "required_accreditations": _ticked(form, "need.required_accreditations."),
        "local_priorities": [],
        "desired_outcomes": _ticked(form, "need.desired_outcomes."),
        "sector_preference": {},  # every box empty: no preference
    }
    for name in ("annual_volume", "annual_budget", "contract_years", "min_years_experience", *_AGES, *_PREFERENCES):
        if (value := _box(form, f"need.{name}")) is not None:
            _set(body, name, value)
    where = {label.removeprefix("need."): label for label in NEED_LABELS}
    rows = items(form, "need.local_priorities", PRIORITY)
    where["local_priorities"] = f"need.local_priorities.{rows[0]}.text"
    for i in rows:
        p = f"need.local_priorities.{i}"
        if _blank(form, p, PRIORITY):
            continue
        k = f"local_priorities[{len(body['local_priorities'])}]"
        where |= {k: f"{p}.text", f"{k}.text": f"{p}.text", f"{k}.weight": f"{p}.weight"}
        priority: dict[str, Any] = {"text": _words(form.get(f"{p}.text", ""))}
        if (weight := _nullable(form, f"{p}.weight")) is not None:
            priority["weight"] = as_number(weight, whole=False)
        body["local_priorities"].append(priority)
    volumes = {}
    for k, v in form.items():
        if k.startswith(_VOLUME) and (typed := v.strip()):
            code = k.removeprefix(_VOLUME)
            volumes[code] = as_number(without_thousands(typed), whole=True)
            where[f"area_volumes.{code}"] = k
    body["area_volumes"] = volumes or None
    return body, where | {"area_volumes": "need.area_volumes"}


def kept_priorities(typed: list[Any], stored: list[Any]) -> list[Any]:
    """The local priorities a saved need form gives (`typed`, their words as the form shows them: spacing and line
    breaks folded), read against the need's (`stored`): one whose words are a stored one's keeps that one's text as
    stored, the one in its place first (saving the form as it opened changes nothing)."""
    texts = {_words(p.text): p.text for p in stored}

    def kept(i: int, p: Any) -> Any:
        same = stored[i].text if i < len(stored) and _words(stored[i].text) == p.text else texts.get(p.text, p.text)
        return msgspec.structs.replace(p, text=same)

    return [kept(i, p) for i, p in enumerate(typed)]


def _words(text: str) -> str:
    return " ".join(text.split())


# --- a question an exercise asks --------------------------------------------------------------------------------

QUESTION_KINDS = {
    "text": "Text",
    "yes_no": "Yes or no",
    "number": "A number",
    "single_choice": "One of the choices",
    "multiple_choice": "Any of the choices",
}
"""A question's kinds of answer, in the console's words (the form's options, and the questions as listed)."""

QUESTION_LABELS = {
    "question.kind": "Kind of answer",
    "question.text": "Question",
    "question.required": "Required",
    "question.word_limit": "Word limit",
    "question.choices": "Choices",
    "question.minimum": "Least",
    "question.maximum": "Most",
    "question.whole_number": "Whole numbers only",
}
"""The new-question form's boxes, in its order (each the API's QuestionIn field after `question.`)."""


def question_values(q: Question) -> dict[str, str]:
    """A stored question as the form changing it shows it, with the version it was read at (a text question's word
    limit left empty when it is the default, as the form adding one leaves it: changing its kind, none to clear)."""
    values = {"question.kind": q.kind, "question.text": q.text, "question.choices": "\n".join(q.choices)}
    values["question.word_limit"] = "" if q.word_limit == DEFAULT_WORD_LIMIT else _s(q.word_limit)
    values |= {f"question.{f}": _s(getattr(q, f)) for f in ("minimum", "maximum")}
    values |= {f"question.{f}": "on" for f in ("required", "whole_number") if getattr(q, f)}
    return values | {"question.version": str(q.version)}


def question_body(form: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The new-question form as POST /exercises/{id}/questions' body, and where each of its fields shows on the
    form: choices one a line; a number box left empty left out (the API's default)."""
    body: dict[str, Any] = {
        "kind": form.get("question.kind", "").strip(),
        "text": form.get("question.text", "").strip(),
        "required": bool(form.get("question.required")),
        "whole_number": bool(form.get("question.whole_number")),
    }
    if choices := _lines(form.get("question.choices", "")):
        body["choices"] = choices
    for name, whole in (("word_limit", True), ("minimum", False), ("maximum", False)):
        typed = _nullable(form, f"question.{name}")
        if typed is not None:
            body[name] = as_number(without_thousands(typed), whole=whole)
    return body, {label.removeprefix("question."): label for label in QUESTION_LABELS}
