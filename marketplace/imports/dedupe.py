"""Is an imported organisation one the directory already has? (pure: the row and the directory in, a verdict out)

Reasons a provider is a candidate, each with a score:
- the same org-id (1.0): decisive: an org-id names one organisation;
- the same website, scheme, `www.` and a trailing slash aside (0.9);
- a similar name (in any script; legal suffixes, accents, case, punctuation and "&"/"and" folded; rapidfuzz
  token-sort ratio at least 0.85) and a shared area (one's service areas within, or holding, the other's): the
  name's similarity;
- a near-identical name (at least 0.95) alone, with no shared area: a weak reason (the candidate is listed, never
  decided on).

The verdict: no candidate is `new`; one provider with a strong reason (whatever weak candidates beside it), or
one by org-id among several, is a `duplicate` of it; otherwise candidates make the row `ambiguous`, and the admin
decides.

A directory may also hold the earlier rows of the file being imported (`Known.row`, no provider yet): they are
judged alike, and their candidates carry the row."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from marketplace.imports.models import Candidate, Verdict
from marketplace.types import LIGATURES

NAME_THRESHOLD = 0.85
NAME_ALONE = 0.95
LEGAL_SUFFIXES = {"cic", "ltd", "limited", "trust", "cio", "the", "plc", "llp", "charity", "uk"}


@dataclass(frozen=True, slots=True)
class Known:
    """A provider of the directory as matching sees it (or an earlier row of the file: `row`)."""

    provider_id: int | None
    name: str
    status: str
    website: str | None
    identifiers: tuple[str, ...]
    areas: frozenset[str]
    """Its services' areas with every area above and below them."""
    row: int | None = None
    """A row of the file being imported, not (yet) a provider: `provider_id` is None."""


APOSTROPHES = re.compile("['’‘ʼ]")


def _word_character(ch: str) -> bool:
    """A letter, a digit or a mark left after folding (the vowel signs of Indic scripts are part of their word)."""
    return unicodedata.category(ch)[0] in "LNM"


def fold_name(name: str) -> str:
    """A name as names are compared: compatibility forms taken apart (NFKD), accents and other combining marks
    dropped, case folded (Unicode's casefold: "ß" is "ss", a Greek final sigma a sigma), "&" as "and", apostrophes
    dropped, "St"/"St." as "saint", legal suffixes dropped (unless nothing else is left); its words are the runs of
    letters and digits of any script. An ASCII name folds as it always has (lower case, words of [a-z0-9])."""
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", name).casefold()).translate(LIGATURES)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).replace("&", " and ")
    text = APOSTROPHES.sub("", text.replace("st.", "saint "))
    text = "".join(ch if _word_character(ch) else " " for ch in text)
    words = ["saint" if w == "st" else w for w in text.split()]
    kept = [w for w in words if w not in LEGAL_SUFFIXES]
    return " ".join(kept or words)


def site(url: str | None) -> str | None:
    if not url:
        return None
    text = re.sub(r"^https?://", "", url.strip().lower())
    text = text.removeprefix("www.").rstrip("/")
    return text or None


RAREST_WORDS = 2
"""A name is compared only with the names sharing one of its rarest words that the directory has (a name 0.85 alike
shares most of its words; a misspelt word is no help and is passed over): at 200,000 providers a row is compared
with hundreds of names, not all of them."""


class Directory:
    """The directory's providers, indexed for matching rows against them."""

    def __init__(self, known: list[Known]) -> None:
        self.known: list[Known] = []
        self.names: list[str] = []
        self.by_identifier: dict[str, int] = {}
        self.by_site: dict[str, list[int]] = {}
        self.by_word: dict[str, list[int]] = {}
        for k in known:
            self.add(k)

    def add(self, k: Known) -> None:
        """A provider (also one created meanwhile: an earlier row of the same commit)."""
        n = len(self.known)
        self.known.append(k)
        folded = fold_name(k.name)
        self.names.append(folded)
        self.by_identifier.update(dict.fromkeys(k.identifiers, n))
        if (s := site(k.website)) is not None:
            self.by_site.setdefault(s, []).append(n)
        for word in set(folded.split()):
            self.by_word.setdefault(word, []).append(n)

    def _similar(self, folded: str) -> list[tuple[int, float]]:
        """(known index, similarity 0..1) of the names at least NAME_THRESHOLD alike."""
        words = sorted((w for w in set(folded.split()) if w in self.by_word), key=lambda w: len(self.by_word[w]))
        pool = sorted({n for w in words[:RAREST_WORDS] for n in self.by_word.get(w, ())})
        if not pool:
            return []
        found = process.extract(
            folded,
            {n: self.names[n] for n in pool},
            scorer=fuzz.token_sort_ratio,
            score_cutoff=NAME_THRESHOLD * 100,
            limit=20,
        )
        return [(n, round(ratio / 100, 3)) for _, ratio, n in found]

    def judge(
        self, name: str, identifiers: list[str], website: str | None, areas: set[str]
    ) -> tuple[Verdict, list[Candidate]]:
        """`areas`: the row's service areas (as given). Candidates strongest first."""
        reasons: dict[int, list[tuple[float, str, bool]]] = {}  # known index: (score, reason, strong)
        for i in identifiers:
            if (n := self.by_identifier.get(i)) is not None:
                reasons.setdefault(n, []).append((1.0, f"same org-id {i}", True))
        if (s := site(website)) is not None:
            for n in self.by_site.get(s, []):
                reasons.setdefault(n, []).append((0.9, f"same website ({s})", True))
        folded = fold_name(name)
        if folded:
            for n, score in self._similar(folded):
                shared = sorted(areas & self.known[n].areas)
                if shared:
                    reasons.setdefault(n, []).append(
                        (score, f"similar name ({score:.2f}) and same area ({shared[0]})", True)
                    )
                elif score >= NAME_ALONE:
                    reasons.setdefault(n, []).append(
                        (score * 0.8, f"similar name ({score:.2f}), no shared area", False)
                    )
        candidates: dict[int, Candidate] = {}  # known index: its candidate
        strong: list[int] = []
        by_org_id: list[int] = []
        for n, found in reasons.items():
            k = self.known[n]
            best = max(s for s, _, _ in found)
            score = min(1.0, best + 0.05 * (len(found) - 1))
            candidates[n] = Candidate(
                provider_id=k.provider_id,
                name=k.name,
                status=k.status,
                score=round(score, 3),
                reasons=[r for _, r, _ in found],
                row=k.row,
            )
            if any(st for _, _, st in found):
                strong.append(n)
            if any(r.startswith("same org-id") for _, r, _ in found):
                by_org_id.append(n)
        order = sorted(candidates, key=lambda n: (-candidates[n].score, n))
        if not order:
            return "new", []
        if len(by_org_id) == 1 or len(strong) == 1:
            winner = by_org_id[0] if len(by_org_id) == 1 else strong[0]
            order.sort(key=lambda n: n != winner)
            return "duplicate", [candidates[n] for n in order]
        return "ambiguous", [candidates[n] for n in order]
