"""How a name typed in a spreadsheet is compared with an organisation's name: pure (no I/O), rows in, scores out.

A name is read as its *core* and its *legal suffixes*:
- folded: lower case, accents and ligatures gone ("Café" = "cafe", "Æ" = "ae"); apostrophes dropped ("Women's" =
  "womens"); "&" read as "and"; any other punctuation a space; "Saint", "Street" and "St" read alike;
  "Co-operative", "Cooperative", "Co-op" and "Coop" all as "cooperative" (Co-op is the usual UK short form); a
  leading "The" dropped;
- legal suffixes at the end of the name are taken off the core, as many as there are, and kept apart in one
  spelling each: Ltd/Limited, CIC/Community Interest Company, CIO/Charitable Incorporated Organisation, PLC/Public
  Limited Company, LLP/Limited Liability Partnership, Trust, Charity ("Severn Housing Trust Ltd" is core "severn
  housing" with suffixes {trust, ltd}). A name that is nothing but suffixes keeps them as its core.

The score (0-100) of a candidate for a query is the better of
- the core's similarity (rapidfuzz's normalised Indel ratio, so one typo in a 20-letter name costs about 5 points;
  words in another order cost 3 points more than the same words in order), less a small suffix penalty
  (`SUFFIX_PENALTY`): nothing when both say the same suffixes, `SUFFIX_ABSENT` when only one side says any or they
  share some, `SUFFIX_CLASH` when both say suffixes and none in common ("Ltd" against "CIC");
- the similarity of the whole folded names, suffixes included (so a typo inside the suffix, "Trsut", costs what a
  typo costs, not the suffix).

A **match** (`match: true`) is a clear winner only: the best candidate scores at least `MATCH_SCORE` and at least
`MATCH_GAP` more than the next (`is_clear_winner`), and neither its name nor its recorded legal form contradicts a
legal form the query states (`legal_form_clash`: "Ltd" against "CIC" is another organisation;
`recorded_form_clash`: "... CIC" against a CIO; the candidate stays, with its score). An
identifier hit is decisive on its own (score 100, match).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz

from marketplace.types import fold

MATCH_SCORE = 90.0
"""The least score a clear winner has."""
MATCH_GAP = 5.0
"""... and how far ahead of the next candidate it must be."""
SUFFIX_ABSENT = 2.0
SUFFIX_CLASH = 8.0
WORD_ORDER_PENALTY = 3.0

LEGAL_SUFFIXES: dict[tuple[str, ...], str] = {
    ("community", "interest", "company"): "cic",
    ("cic",): "cic",
    ("c", "i", "c"): "cic",
    ("charitable", "incorporated", "organisation"): "cio",
    ("charitable", "incorporated", "organization"): "cio",
    ("cio",): "cio",
    ("c", "i", "o"): "cio",
    ("public", "limited", "company"): "plc",
    ("plc",): "plc",
    ("limited", "liability", "partnership"): "llp",
    ("llp",): "llp",
    ("limited",): "ltd",
    ("ltd",): "ltd",
    ("trust",): "trust",
    ("charity",): "charity",
}
"""Words at the end of a name that say its legal form (or nearly), in one spelling each: noise for the core."""
_LONGEST_SUFFIX = max(len(k) for k in LEGAL_SUFFIXES)

_APOSTROPHES = re.compile(r"['’‘`´]")
_NOT_WORD = re.compile(r"[^a-z0-9]+")
_JOINED = {("co", "operative"): "cooperative", ("co", "op"): "cooperative"}
_WORDS = {"saint": "st", "street": "st", "coop": "cooperative"}
"""Words read as one: "St" is "Saint" in "St John's" and "Street" in "Kiln St", so both are read as "st"; "Co-op"
and "Coop" are the usual short form of "Co-operative" in UK names, so all are read as "cooperative"."""

LEGAL_FORMS = frozenset({"ltd", "cic", "cio", "plc", "llp"})
"""The suffixes that say a legal form (a company limited by shares or guarantee, a community interest company, a
charitable incorporated organisation, a public limited company, a limited liability partnership): two names stating
different ones are different legal entities, however alike the rest. ("Trust" and "Charity" say no legal form.)"""


def words(text: str) -> list[str]:
    """The words of a name as compared: folded, "&" as "and", apostrophes dropped, Saint/Street as "st", co-op
    joined."""
    text = _APOSTROPHES.sub("", fold(text).replace("&", " and "))
    tokens = [_WORDS.get(t, t) for t in _NOT_WORD.split(text) if t]
    out: list[str] = []
    for t in tokens:
        joined = _JOINED.get((out[-1], t)) if out else None
        if joined:
            out[-1] = joined
        else:
            out.append(t)
    if len(out) > 1 and out[0] == "the":
        out = out[1:]
    return out


@dataclass(frozen=True, slots=True)
class NameKey:
    """A name as it is compared."""

    core: str
    suffixes: frozenset[str]
    full: str


def name_key(name: str) -> NameKey:
    tokens = words(name)
    core, suffixes = list(tokens), set[str]()
    stripped = True
    while stripped:
        stripped = False
        for n in range(min(_LONGEST_SUFFIX, len(core) - 1), 0, -1):
            canonical = LEGAL_SUFFIXES.get(tuple(core[-n:]))
            if canonical is not None:
                suffixes.add(canonical)
                del core[-n:]
                stripped = True
                break
    return NameKey(" ".join(core), frozenset(suffixes), " ".join(tokens))


def suffix_penalty(query: frozenset[str], candidate: frozenset[str]) -> float:
    if query == candidate:
        return 0.0
    if query and candidate and not (query & candidate):
        return SUFFIX_CLASH
    return SUFFIX_ABSENT


def score(query: NameKey, candidate: NameKey) -> float:
    """How well `candidate` answers `query`, 0-100 (one decimal)."""
    in_order = fuzz.ratio(query.core, candidate.core)
    any_order = fuzz.token_sort_ratio(query.core, candidate.core) - WORD_ORDER_PENALTY
    core = max(in_order, any_order) - suffix_penalty(query.suffixes, candidate.suffixes)
    whole = fuzz.ratio(query.full, candidate.full)
    return round(max(0.0, core, whole), 1)


def legal_form_clash(query: NameKey, candidate: NameKey) -> tuple[str, str] | None:
    """The legal forms `query` and `candidate` each state when both state one and they share none (the query's,
    the candidate's: ("ltd", "cic")); None when they agree or either states none. A clash never lets the
    candidate be the match: a Ltd and a CIC of one name are two organisations."""
    asked, named = query.suffixes & LEGAL_FORMS, candidate.suffixes & LEGAL_FORMS
    if asked and named and not asked & named:
        return ", ".join(sorted(asked)), ", ".join(sorted(named))
    return None


RECORDED_FORMS: dict[str, frozenset[str]] = {
    "cic": frozenset({"cic"}),
    "cio": frozenset({"cio"}),
    "company_limited_by_guarantee": frozenset({"ltd"}),
    "private_company": frozenset({"ltd"}),
    "co_operative_society": frozenset({"ltd"}),
    "community_benefit_society": frozenset({"ltd"}),
    "public_service_mutual": frozenset({"ltd", "cic"}),
    "registered_charity": frozenset({"ltd", "cio"}),
    "unincorporated_association": frozenset(),
    "public_body": frozenset(),
}
"""The legal forms (of LEGAL_FORMS) a name may state for a provider of each recorded legal form (`legal_forms.json`):
a CIO is never a CIC; a registered charity may be a charitable company ("Ltd") or a CIO, a registered society's
name ends "Limited". A legal form not listed here (the taxonomy is data) is not compared."""


def recorded_form_clash(query: NameKey, legal_form: str) -> str | None:
    """The legal forms `query` states (as `legal_form_clash` gives them) when the candidate's recorded legal form
    cannot have any of them ("... CIC" asked, a CIO recorded); None when it can, the query states none, or the
    recorded form is not one `RECORDED_FORMS` knows. A clash never lets the candidate be the match."""
    asked, allowed = query.suffixes & LEGAL_FORMS, RECORDED_FORMS.get(legal_form)
    if asked and allowed is not None and not asked & allowed:
        return ", ".join(sorted(asked))
    return None


def is_clear_winner(scores: Sequence[float]) -> bool:
    """Whether the best of `scores` (sorted best first) is a clear winner: at least MATCH_SCORE and MATCH_GAP ahead."""
    if not scores or scores[0] < MATCH_SCORE:
        return False
    return len(scores) == 1 or scores[0] - scores[1] >= MATCH_GAP


def retrieval_texts(name: str) -> list[str]:
    """What to look a query up by in the database's folded names (trigrams): its core, then with "st" written the
    other ways names write it ("saint", "street"), without "and" (a name may say "&"), and with "coop" for
    "cooperative" (a name may say "Co-op"). One to five texts."""
    key = name_key(name)
    core = key.core or key.full
    texts = [core]
    tokens = core.split()
    if "st" in tokens:
        texts += [" ".join(word if t == "st" else t for t in tokens) for word in ("saint", "street")]
    if "and" in tokens:
        texts.append(" ".join(t for t in tokens if t != "and"))
    if "cooperative" in tokens:  # a name may say "Co-op" or "Coop"
        texts.append(" ".join("coop" if t == "cooperative" else t for t in tokens))
    return texts
