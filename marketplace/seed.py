"""Loading seed_data/: taxonomies (upserted every time) and the demo providers (into an empty directory).

Every file is decoded with the same msgspec types the API validates with, and checked against
the taxonomies; a bad file fails with the file, the record and the field named.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import msgspec

from marketplace import audit
from marketplace.appraisals import service as appraisals
from marketplace.appraisals.models import SeedAppraisal
from marketplace.clock import Clock
from marketplace.context import Context
from marketplace.db import Connection
from marketplace.engagement import service as engagement
from marketplace.engagement.models import SampleEngagement
from marketplace.exercises import service as exercises
from marketplace.exercises.models import SeedExercise, need_problems
from marketplace.providers import service as providers
from marketplace.providers.models import (
    SeedProvider,
    in_stored_order,
    normalised,
    profile_problems,
    seed_verification_problems,
)
from marketplace.settings import Settings
from marketplace.taxonomy import service as taxonomy
from marketplace.taxonomy.models import DesiredOutcomeVocabulary, Taxonomy
from marketplace.types import Actor
from matching import InvalidWeights


class SeedError(Exception):
    pass


def _record_label(path: Path, raw: Any, index: int) -> str:
    name = (
        raw[index].get("name") if isinstance(raw, list) and index < len(raw) and isinstance(raw[index], dict) else None
    )
    return f"{path.name}: record {index}" + (f" ({name!r})" if name else "")


def load_file(path: Path, typ: Any) -> Any:
    """The file's records decoded as `typ` (a list type, e.g. `list[Area]`), or a SeedError naming the record."""
    data = path.read_bytes()
    try:
        return msgspec.json.decode(data, type=typ)
    except msgspec.ValidationError as exc:
        msg = str(exc)
        m = re.search(r"at `\$\[(\d+)\]\.?(.*)`$", msg)
        if not m:
            raise SeedError(f"{path.name}: {msg}") from None
        raw = msgspec.json.decode(data)
        field = m.group(2) or "(record)"
        problem = msg[: m.start()].strip().rstrip("-").strip()
        raise SeedError(f"{_record_label(path, raw, int(m.group(1)))}: {field}: {problem}") from None
    except msgspec.DecodeError as exc:
        raise SeedError(f"{path.name}: not valid JSON: {exc}") from None


TAXONOMY_FILES = {field.name: f"{field.name}.json" for field in msgspec.structs.fields(Taxonomy)}
"""Each taxonomy's seed file: `areas` in areas.json, and so on."""
VOCABULARIES = {"desired_outcomes": DesiredOutcomeVocabulary}
"""Taxonomies whose file names its source: an object with the list in a field of the same name (optional files)."""


def _taxonomy_part(seed_dir: Path, name: str, typ: Any) -> Any:
    path = seed_dir / TAXONOMY_FILES[name]
    if name not in VOCABULARIES:
        return load_file(path, typ)
    if not path.exists():
        return []
    return load_file(path, VOCABULARIES[name]).outcomes


def load_taxonomy(seed_dir: Path) -> Taxonomy:
    """Every taxonomy file, each decoded as the Taxonomy's own field type (`areas: list[Area]`, ...)."""
    fields = {f.name: f.type for f in msgspec.structs.fields(Taxonomy)}
    tax = Taxonomy(**{name: _taxonomy_part(seed_dir, name, typ) for name, typ in fields.items()})
    area_codes = tax.codes("areas")
    for i, a in enumerate(tax.areas):
        if a.parent is not None and a.parent not in area_codes:
            raise SeedError(f"areas.json: record {i} ({a.name!r}): parent: unknown area code {a.parent!r}")
    sectors = tax.codes("sectors")
    for i, lf in enumerate(tax.legal_forms):
        if lf.sector not in sectors:
            raise SeedError(f"legal_forms.json: record {i} ({lf.name!r}): sector: unknown sector code {lf.sector!r}")
    pathways = tax.codes("pathways")
    for i, d in enumerate(tax.desired_outcomes):
        if d.pathway not in pathways:
            raise SeedError(f"desired_outcomes.json: outcome {i} ({d.name!r}): pathway: unknown pathway {d.pathway!r}")
    return tax


def load_providers(seed_dir: Path, taxonomy: Taxonomy, *, today: dt.date) -> list[SeedProvider]:
    path = seed_dir / "providers.json"
    providers = [normalised(p) for p in load_file(path, list[SeedProvider])]
    seen: dict[str, int] = {}
    for i, p in enumerate(providers):
        problems = profile_problems(p, taxonomy, today=today) + seed_verification_problems(p)
        if problems:
            first = problems[0]
            raise SeedError(f"{path.name}: record {i} ({p.name!r}): {first.field}: {first.problem}")
        for ident in p.identifiers:
            if ident in seen:
                raise SeedError(
                    f"{path.name}: record {i} ({p.name!r}): identifiers: {ident} is also used by record {seen[ident]}"
                )
            seen[ident] = i
    return [in_stored_order(p, taxonomy) for p in providers]  # their first history entries: as stored


class SeedData(msgspec.Struct, frozen=True):
    taxonomy: Taxonomy
    providers: list[SeedProvider]
    exercises: list[SeedExercise] = []
    appraisals: list[SeedAppraisal] = []
    engagement: SampleEngagement | None = None


def load_exercises(seed_dir: Path, taxonomy: Taxonomy) -> list[SeedExercise]:
    path = seed_dir / "exercises.json"
    if not path.exists():
        return []
    exercises: list[SeedExercise] = load_file(path, list[SeedExercise])
    for i, x in enumerate(exercises):
        try:
            x.default_weights.table()
        except InvalidWeights as exc:
            raise SeedError(
                f"{path.name}: record {i} ({x.title!r}): default_weights.{exc.field}: {exc.problem}"
            ) from None
        for j, n in enumerate(x.needs):
            problems = need_problems(n, taxonomy, prefix=f"needs[{j}].")
            if problems:
                raise SeedError(f"{path.name}: record {i} ({x.title!r}): {problems[0].field}: {problems[0].problem}")
    return exercises


def load_seed(seed_dir: Path, *, today: dt.date | None = None) -> SeedData:
    """Read and check every seed file; touches no database."""
    taxonomy = load_taxonomy(seed_dir)
    sample = seed_dir / "engagement.json"
    return SeedData(
        taxonomy,
        load_providers(seed_dir, taxonomy, today=today or Clock().today()),
        load_exercises(seed_dir, taxonomy),
        load_file(seed_dir / "appraisals.json", list[SeedAppraisal]) if (seed_dir / "appraisals.json").exists() else [],
        load_sample_engagement(sample) if sample.exists() else None,
    )


def load_sample_engagement(path: Path) -> SampleEngagement:
    """The sample engagement, its questions checked as adding them checks them (`questions[0].choices[1]`)."""
    sample: SampleEngagement = load_file(path, SampleEngagement)
    problems = [p for i, q in enumerate(sample.questions) for p in engagement.question_problems(q, f"questions[{i}].")]
    if problems:
        raise SeedError(f"{path.name}: {problems[0].field}: {problems[0].problem}")
    return sample


async def seed(conn: Connection, seed_dir: Path, *, today: dt.date | None = None) -> int:
    """Upsert the taxonomies; load the demo providers when the directory is empty."""
    return await write_seed(conn, load_seed(seed_dir, today=today))


async def write_seed(conn: Connection, data: SeedData) -> int:
    """Returns the number of providers loaded. Everything happens in one transaction.

    History is append-only, so demo providers are never deleted here: `marketplace seed --reset`
    rebuilds the whole database instead (see migrate.reset_schema). The change history names the system (the demo
    data's loader) beside every row the seed writes, whoever the sample records say acted."""
    async with conn.transaction():
        await taxonomy.save(conn, data.taxonomy)
        await exercises.load_samples(conn, data.exercises, at=Clock().now())  # each part seeds when it is empty
        loaded = await providers.load_samples(conn, data.providers, at=Clock().now())
        await appraisals.load_samples(conn, data.appraisals, at=Clock().now())  # on the seeded exercises
        await seed_engagement(conn, data)
        await audit.acting(conn, Actor.seed("seed"))  # last: who acted is said once for the whole transaction
        return loaded


async def seed_engagement(conn: Connection, data: SeedData) -> None:
    """The sample exercise published for market engagement, with responses (engagement.service.load_samples)."""
    if data.engagement is None:
        return
    ctx = Context(settings=Settings(), clock=Clock(), taxonomy=data.taxonomy, secret=b"")
    await engagement.load_samples(ctx, conn, data.engagement)
