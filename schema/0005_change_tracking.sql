-- Change tracking for the per-process views of the directory (the search index, matching's candidate pools).
--
-- Every insert or update of a provider row records the writing transaction's id in changed_xid. A process
-- that loaded the directory under snapshot S finds exactly the providers written since by asking for rows
-- whose changed_xid is not visible in S (pg_visible_in_snapshot); the index on changed_xid keeps that to
-- the few rows written since S's xmin. Writers never wait on each other (no shared counter row), and a
-- transaction that commits late is still found, because visibility, not commit order, decides.
--
-- Every write path to a provider's content ends in refresh_provider_search(), an UPDATE of the row, so
-- child-table changes (expertise, coverage, ...) are caught too.

alter table provider add column changed_xid xid8 not null default '0';

create function provider_touch() returns trigger language plpgsql as $$
begin
    new.changed_xid := pg_current_xact_id();
    return new;
end
$$;

create trigger provider_touch before insert or update on provider
    for each row execute function provider_touch();

update provider set changed_xid = pg_current_xact_id();
create index provider_changed_xid on provider (changed_xid);

-- Search now runs over a per-process index built from search_doc (marketplace/providers/index.py), which
-- corrects typos against its own vocabulary; the search_term table is no longer read. Stop filling it
-- (it was ~40% of a bulk refresh) and drop it.
create or replace function refresh_provider_search(ids bigint[]) returns void language sql as $$
    with src as (
        select p.id, lf.sector_code, x.pathways, x.cohorts, c.down, c.up_down, ac.codes,
            setweight(to_tsvector('simple', fold(p.name)), 'A')
            || setweight(to_tsvector('simple', fold(coalesce(x.pathway_text, '') || ' ' || coalesce(c.area_text, ''))), 'B')
            || setweight(to_tsvector('simple', fold(p.description || ' ' || coalesce(x.expertise_text, '')
                   || ' ' || coalesce(pr.premises_text, ''))), 'C') as doc
        from provider p
        join legal_form lf on lf.code = p.legal_form
        cross join lateral (
            select array_agg(e.pathway_code order by e.pathway_code) as pathways,
                   (select array_agg(distinct ec.cohort_code order by ec.cohort_code)
                      from provider_expertise_cohort ec where ec.provider_id = p.id) as cohorts,
                   string_agg(pw.name || ' ' || array_to_string(pw.synonyms, ' '), ' ') as pathway_text,
                   string_agg(e.description || ' ' || coalesce(e.outcomes_evidence, ''), ' ') as expertise_text
            from provider_expertise e join pathway pw on pw.code = e.pathway_code
            where e.provider_id = p.id
        ) x
        cross join lateral (
            select (select array_agg(distinct cl.descendant order by cl.descendant)
                      from provider_coverage pc join area_closure cl on cl.ancestor = pc.area_code
                      where pc.provider_id = p.id) as down,
                   (select array_agg(distinct a order by a) from (
                        select cl.descendant as a from provider_coverage pc
                        join area_closure cl on cl.ancestor = pc.area_code where pc.provider_id = p.id
                        union
                        select cl.ancestor from provider_coverage pc
                        join area_closure cl on cl.descendant = pc.area_code where pc.provider_id = p.id) u) as up_down,
                   (select string_agg(distinct a.name, ' ')
                      from provider_coverage pc join area_closure cl on cl.ancestor = pc.area_code
                      join area a on a.code = cl.descendant
                      where pc.provider_id = p.id) as area_text
        ) c
        cross join lateral (
            select array_agg(pa.accreditation_code order by pa.accreditation_code) as codes
            from provider_accreditation pa where pa.provider_id = p.id
        ) ac
        cross join lateral (
            select string_agg(pm.description, ' ') as premises_text
            from provider_premises pm where pm.provider_id = p.id
        ) pr
        where p.id = any(ids)
    )
    update provider p set
        sector              = src.sector_code,
        pathway_codes       = coalesce(src.pathways, '{}'),
        cohort_codes        = coalesce(src.cohorts, '{}'),
        coverage_codes      = coalesce(src.down, '{}'),
        area_match_codes    = coalesce(src.up_down, '{}'),
        accreditation_codes = coalesce(src.codes, '{}'),
        search_doc          = src.doc
    from src where src.id = p.id;
$$;

drop table search_term;
