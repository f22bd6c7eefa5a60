"""SQL for the taxonomies."""

from __future__ import annotations

from marketplace.db import Connection, Pool
from marketplace.taxonomy.models import (
    Accreditation,
    Area,
    Cohort,
    DesiredOutcome,
    LegalForm,
    Pathway,
    Sector,
    SocialValueCommitment,
    Taxonomy,
)


def _parents_first(areas: list[Area]) -> list[Area]:
    by_code = {a.code: a for a in areas}
    ordered: list[Area] = []
    placed: set[str] = set()

    def place(a: Area) -> None:
        if a.code in placed:
            return
        if a.parent and a.parent in by_code:
            place(by_code[a.parent])
        placed.add(a.code)
        ordered.append(a)

    for a in areas:
        place(a)
    return ordered


async def upsert_taxonomy(conn: Connection, t: Taxonomy) -> None:
    await conn.executemany(
        """insert into area (code, name, kind, parent_code) values ($1, $2, $3, $4)
           on conflict (code) do update
           set name = excluded.name, kind = excluded.kind, parent_code = excluded.parent_code""",
        [(a.code, a.name, a.kind, a.parent) for a in _parents_first(t.areas)],
    )
    await conn.execute("select refresh_area_closure()")
    await conn.executemany(
        """insert into pathway (code, name, description, synonyms, sort_order) values ($1, $2, $3, $4, $5)
           on conflict (code) do update set name = excluded.name, description = excluded.description,
               synonyms = excluded.synonyms, sort_order = excluded.sort_order""",
        [(p.code, p.name, p.description, p.synonyms, i) for i, p in enumerate(t.pathways)],
    )
    await conn.executemany(
        """insert into cohort (code, name, description, min_age, max_age, sort_order) values ($1, $2, $3, $4, $5, $6)
           on conflict (code) do update set name = excluded.name, description = excluded.description,
               min_age = excluded.min_age, max_age = excluded.max_age, sort_order = excluded.sort_order""",
        [(c.code, c.name, c.description, c.min_age, c.max_age, i) for i, c in enumerate(t.cohorts)],
    )
    await conn.executemany(
        """insert into sector (code, name, description, sort_order) values ($1, $2, $3, $4)
           on conflict (code) do update
           set name = excluded.name, description = excluded.description, sort_order = excluded.sort_order""",
        [(s.code, s.name, s.description, i) for i, s in enumerate(t.sectors)],
    )
    await conn.executemany(
        """insert into legal_form (code, name, sector_code, identifier_schemes, sort_order) values ($1, $2, $3, $4, $5)
           on conflict (code) do update set name = excluded.name, sector_code = excluded.sector_code,
               identifier_schemes = excluded.identifier_schemes, sort_order = excluded.sort_order""",
        [(lf.code, lf.name, lf.sector, lf.identifier_schemes, i) for i, lf in enumerate(t.legal_forms)],
    )
    await conn.executemany(
        """insert into accreditation (code, name, awarded_by, sort_order) values ($1, $2, $3, $4)
           on conflict (code) do update
           set name = excluded.name, awarded_by = excluded.awarded_by, sort_order = excluded.sort_order""",
        [(a.code, a.name, a.awarded_by, i) for i, a in enumerate(t.accreditations)],
    )
    await conn.executemany(
        """insert into social_value_commitment (code, name, sort_order) values ($1, $2, $3)
           on conflict (code) do update set name = excluded.name, sort_order = excluded.sort_order""",
        [(s.code, s.name, i) for i, s in enumerate(t.social_value)],
    )
    if not t.desired_outcomes:  # none to write (and a database migrated only so far has no table for them)
        return
    await conn.executemany(
        """insert into desired_outcome (code, pathway_code, name, description, sort_order) values ($1, $2, $3, $4, $5)
           on conflict (code) do update set pathway_code = excluded.pathway_code, name = excluded.name,
               description = excluded.description, sort_order = excluded.sort_order""",
        [(d.code, d.pathway, d.name, d.description, i) for i, d in enumerate(t.desired_outcomes)],
    )


async def fetch_taxonomy(conn: Connection | Pool) -> Taxonomy:
    areas = await conn.fetch(
        """select a.code, a.name, a.kind, a.parent_code
           from area a join area_closure c on c.descendant = a.code
           group by a.code order by max(c.depth), a.name"""
    )
    pathways = await conn.fetch("select code, name, description, synonyms from pathway order by sort_order, code")
    cohorts = await conn.fetch("select code, name, description, min_age, max_age from cohort order by sort_order, code")
    sectors = await conn.fetch("select code, name, description from sector order by sort_order, code")
    forms = await conn.fetch(
        "select code, name, sector_code, identifier_schemes from legal_form order by sort_order, code"
    )
    accs = await conn.fetch("select code, name, awarded_by from accreditation order by sort_order, code")
    svs = await conn.fetch("select code, name from social_value_commitment order by sort_order, code")
    desired = await conn.fetch(
        "select code, pathway_code, name, description from desired_outcome order by sort_order, code"
    )
    return Taxonomy(
        areas=[Area(code=r["code"], name=r["name"], kind=r["kind"], parent=r["parent_code"]) for r in areas],
        pathways=[
            Pathway(code=r["code"], name=r["name"], description=r["description"], synonyms=list(r["synonyms"]))
            for r in pathways
        ],
        cohorts=[Cohort(**dict(r)) for r in cohorts],
        sectors=[Sector(**dict(r)) for r in sectors],
        legal_forms=[
            LegalForm(
                code=r["code"],
                name=r["name"],
                sector=r["sector_code"],
                identifier_schemes=list(r["identifier_schemes"]),
            )
            for r in forms
        ],
        accreditations=[Accreditation(**dict(r)) for r in accs],
        social_value=[SocialValueCommitment(**dict(r)) for r in svs],
        desired_outcomes=[
            DesiredOutcome(code=r["code"], pathway=r["pathway_code"], name=r["name"], description=r["description"])
            for r in desired
        ],
    )
