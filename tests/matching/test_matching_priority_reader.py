"""The priority explanation made fast (issue 12: explaining the 50 shown providers) says exactly what it said
before: :class:`matching.priorities.PriorityReader`, one per explanation and shared by every candidate shown,
against the per-candidate numpy implementation it replaced (kept here, verbatim, as the reference)."""

from __future__ import annotations

import re

import matching_factories as f
import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from rapidfuzz import fuzz, process

from marketplace.taxonomy.reference import REFERENCE_DIR, load_thesaurus
from matching import Priority, Service
from matching.priorities import (
    PHRASE_EXPONENT,
    TOGETHER_SHARE,
    PriorityEvidence,
    PriorityReader,
    WordMatch,
    explain_priorities,
    priority_variants,
)
from matching.text import WORD_CUTOFF, normalise_word, raw_words, snippets
from matching.thesaurus import EMPTY_THESAURUS, Thesaurus

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
THESAURUS = load_thesaurus(REFERENCE_DIR / "thesaurus.json")


# -- the reference: explain_priorities as it was, one candidate at a time -------------------------------


def _ref_norm(raw: str, memo: dict[str, str | None]) -> str | None:
    w = memo.get(raw, "")
    if w == "":
        w = memo[raw] = normalise_word(raw)
    return w


def _ref_quote(text: str, wanted: set[str], memo: dict[str, str | None], limit: int = 160) -> str:
    spans = [
        (mt.start(), mt.end()) for mt in re.finditer(r"[^\W_]+", text) if _ref_norm(mt.group().lower(), memo) in wanted
    ]
    text_len = len(text)
    if not spans:
        return " ".join(text.split())[:limit]
    lo, hi = spans[0][0], spans[-1][1]
    room = max(limit - (hi - lo), 0) // 2
    a = max(0, lo - room)
    b = min(text_len, hi + room)
    if a > 0:
        a = text.find(" ", a, lo) + 1 or a
    if b < text_len:
        cut = text.rfind(" ", hi, b)
        b = cut if cut > 0 else b
    quoted = " ".join(text[a:b].split())
    return ("…" if a > 0 else "") + quoted + ("…" if b < text_len else "")


def _ref_surface_of(texts: tuple[str, ...], norm: str, memo: dict[str, str | None]) -> str:
    """The first spelling of ``norm`` in the first of ``texts`` holding it (the priority, then the terms the
    thesaurus put in), else ``norm``."""
    for text in texts:
        for raw in raw_words(text):
            if _ref_norm(raw, memo) == norm:
                return raw
    return norm


def reference(
    services: tuple[Service, ...], priorities: tuple[Priority, ...], thesaurus: Thesaurus
) -> list[PriorityEvidence]:
    memo: dict[str, str | None] = {}
    sources: list[tuple[str, str]] = []
    for service in services:
        label = f'service "{service.name}"' if service.name else f"service {service.service_id}"
        sources.extend((label, s) for s in snippets(service.description))
        for r in service.outcomes or ():
            text = ". ".join(x for x in (r.outcome, r.measure, r.note) if x)
            sources.extend((f"{label} outcomes", s) for s in snippets(text))
    per_source: list[dict[str, str]] = []
    for _, text in sources:
        forms: dict[str, str] = {}
        for raw in raw_words(text):
            w = _ref_norm(raw, memo)
            if w is not None:
                forms.setdefault(w, raw)
        per_source.append(forms)
    surface: dict[str, str] = {}
    for ws in per_source:
        for w, raw in ws.items():
            surface.setdefault(w, raw)
    vocab = list(surface)
    variants = priority_variants(priorities, thesaurus)
    query = list(dict.fromkeys(w for vs in variants for v in vs for w in v))
    sim = np.zeros((len(query), len(vocab)))
    if vocab and query:
        sim = process.cdist(query, vocab, scorer=fuzz.ratio, score_cutoff=WORD_CUTOFF, dtype=np.float64) / 100.0
    qpos = {w: k for k, w in enumerate(query)}
    vpos = {w: k for k, w in enumerate(vocab)}
    sizes = [len(ws) for ws in per_source]
    per_sentence = np.zeros((len(sources), len(query)))
    nonempty = [k for k, n in enumerate(sizes) if n]
    if nonempty and len(query):
        cols = np.fromiter((vpos[w] for k in nonempty for w in per_source[k]), dtype=np.int64)
        starts = np.cumsum([0] + [sizes[k] for k in nonempty[:-1]])
        per_sentence[nonempty] = np.maximum.reduceat(sim[:, cols], starts, axis=1).T
    best_any = sim.max(axis=1, initial=0.0).tolist() if len(query) else []
    out = []
    for p, vs in zip(priorities, variants, strict=True):
        best_variant: tuple[str, ...] = ()
        best_score = -1.0
        read_as: tuple[tuple[str, str], ...] = ()
        for v, swaps in zip(vs, thesaurus.swaps(p.text), strict=True):
            if not v:
                continue
            rows = [qpos[w] for w in v]
            anywhere = sum(best_any[r] for r in rows) / len(rows)
            together = float(per_sentence[:, rows].sum(axis=1).max(initial=0.0)) / len(rows)
            score = min(max(TOGETHER_SHARE * together + (1 - TOGETHER_SHARE) * anywhere, 0.0), 1.0) ** PHRASE_EXPONENT
            if score > best_score:
                best_variant, best_score, read_as = v, score, swaps
        put_in = " ".join(alt for _, alt in read_as)
        matches = []
        for w in best_variant:
            row = sim[qpos[w]]
            if len(row) and row.max() > 0:
                k = int(row.argmax())
                matches.append(
                    WordMatch(_ref_surface_of((p.text, put_in), w, memo), surface[vocab[k]], float(row[k]), w, vocab[k])
                )
        snippet = None
        if matches:
            rows = [qpos[mt.word_norm] for mt in matches]
            scores = per_sentence[:, rows].mean(axis=1)
            k = int(np.argmax(scores))
            if scores[k] > 0:
                parts: list[str] = []
                left = {mt.matched_norm for mt in matches}
                for at in [k, *range(len(sources))]:
                    here = left & per_source[at].keys()
                    if here:
                        label, text = sources[at]
                        parts.append(f'{label}: "{_ref_quote(text, here, memo)}"')
                        left -= here
                    if not left:
                        break
                snippet = " and ".join(parts)
        out.append(PriorityEvidence(tuple(matches), len(best_variant), read_as if matches else (), snippet))
    return out


# -- random services and priorities -----------------------------------------------------------------------

VOCAB = [
    "tenancy", "tenancies", "sustainment", "sustaining", "housing", "housed", "house", "hous", "accommodation",
    "women", "woman", "young", "risk", "support", "supported", "care", "leavers", "leaver", "debt", "advice",
    "money", "budgeting", "rural", "villages", "village", "outreach", "Herefordshire", "universal", "credit",
    "claims", "claim", "mentoring", "exploitation", "Café", "très", "İstanbul", "the", "of", "and", "for", "a",
    "2024", "12", "x_y", "self-declared", "ÉCOLE", "advise", "advide", "tenancie", "tenanci", "rurall", "rual",
]  # fmt: skip
word = st.sampled_from(VOCAB)
sentence = st.lists(word, min_size=0, max_size=30).map(" ".join)
breaks = st.sampled_from([". ", "; ", "! ", "? ", "\n", ".  ", " , "])


@st.composite
def text(draw: st.DrawFn) -> str:
    parts = draw(st.lists(sentence, min_size=0, max_size=5))
    out = ""
    for p in parts:
        out += p + draw(breaks)
    return out


@st.composite
def services(draw: st.DrawFn) -> tuple[Service, ...]:
    n = draw(st.integers(1, 3))
    out = []
    for k in range(1, n + 1):
        records = tuple(
            f.outcome(outcome=draw(sentence), measure=draw(st.sampled_from(["", "% sustained", "people housed"])),
                      note=draw(st.one_of(st.none(), text())))
            for _ in range(draw(st.integers(0, 2)))
        )  # fmt: skip
        out.append(
            f.service(
                service_id=k,
                name=draw(st.sampled_from(["", "Tenancy Plus"])),
                description=draw(text()),
                outcomes=records,
            )
        )
    return tuple(out)


priority = st.lists(word, min_size=1, max_size=10).map(" ".join).map(Priority)
needs = st.lists(priority, min_size=1, max_size=3).map(tuple)


@SETTINGS
@given(
    candidates=st.lists(services(), min_size=1, max_size=4),
    priorities=needs,
    thesaurus=st.sampled_from([EMPTY_THESAURUS, THESAURUS]),
)
def test_one_reader_for_many_candidates_says_what_each_said_alone(
    candidates: list[tuple[Service, ...]], priorities: tuple[Priority, ...], thesaurus: Thesaurus
) -> None:
    reader = PriorityReader(priorities, thesaurus)
    for shown in [*candidates, *candidates[:1]]:  # a candidate seen again: the same words
        got = reader.explain(shown)
        assert got == reference(shown, priorities, thesaurus)
        event("quoted" if any(e.snippet for e in got) else "no quote")


def test_long_phrasings_and_long_passages_are_quoted_as_before() -> None:
    long = "tenancy sustainment housing support for young women care leavers at risk in rural villages"
    text = (
        "Our service offers mentoring, budgeting and money advice to people across the county, and "
        + long
        + ", with outreach to every market town and village in Herefordshire and beyond. Debt advice; credit claims"
    )
    shown = (f.service(service_id=1, description=text),)
    priorities = (Priority(long), Priority("universal credit claims"), Priority("debt advice in rural villages"))
    for thesaurus in (EMPTY_THESAURUS, THESAURUS):
        got = explain_priorities(shown, priorities, thesaurus=thesaurus)
        assert got == reference(shown, priorities, thesaurus)
        assert got[0].word_count >= 8 and got[0].snippet is not None and "…" in got[0].snippet


def test_phrasings_of_eight_words_add_up_as_numpy_did() -> None:
    """Two phrasings with the same 8 words in another order can differ in the last bit of their sum: numpy added a
    text of several sentences left to right and a text of one sentence pairwise, and so does the reader."""
    priorities = (Priority("tenancy sustainment sustaining housing housing house hous tenancie"),)
    several = (
        f.service(
            description="tenancy house accommodation. ",
            outcomes=(f.outcome(outcome="", measure="% sustained", note=None),),
        ),
    )
    one = (f.service(description="tenancy house accommodation sustained", outcomes=()),)
    for shown in (several, one):
        got = explain_priorities(shown, priorities, thesaurus=THESAURUS)
        assert got == reference(shown, priorities, THESAURUS)
        assert got[0].word_count == 8
