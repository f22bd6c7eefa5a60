-- GET /providers/{id} reads one row: what the provider says about itself (ProviderProfile's fields, from the
-- row and the child tables, plus id and sector) is kept as one JSON document on the provider row
-- (provider_profile_doc), written by refresh_provider_search() in the same transaction as the content (every
-- content write ends there). Status, verification, confirmation, version and timestamps are read from the
-- row's own columns and added, so those changes need no rewrite.
--
-- Search now runs over a per-process index built from search_doc (marketplace/providers/index.py), which
-- corrects typos against its own vocabulary: the search_term table is no longer read. The refresh stops
-- filling it (it was ~40% of a bulk refresh) and it is dropped.

alter table provider add column profile_doc json;

-- The document as the child tables and the row say now.
create function provider_profile_doc(provider_id bigint) returns json language sql stable as $$
    select json_build_object(
        'id', p.id, 'name', p.name, 'legal_form', p.legal_form,
        'sector', (select lf.sector_code from legal_form lf where lf.code = p.legal_form),
        'identifiers', coalesce((select json_agg(i.identifier order by i.identifier)
                                 from provider_identifier i where i.provider_id = p.id), '[]'),
        'description', p.description, 'website', p.website, 'founded_year', p.founded_year,
        'contact', json_build_object('name', p.contact_name, 'email', p.contact_email, 'phone', p.contact_phone),
        'expertise', coalesce((select json_agg(json_build_object(
                'pathway', e.pathway_code,
                'cohorts', (select coalesce(json_agg(ec.cohort_code order by co.sort_order), '[]')
                            from provider_expertise_cohort ec join cohort co on co.code = ec.cohort_code
                            where ec.provider_id = e.provider_id and ec.pathway_code = e.pathway_code),
                'years_experience', e.years_experience, 'description', e.description,
                'outcomes_evidence', e.outcomes_evidence) order by e.position, e.pathway_code)
               from provider_expertise e where e.provider_id = p.id), '[]'),
        'coverage', coalesce((select json_agg(pc.area_code order by pc.area_code)
                              from provider_coverage pc where pc.provider_id = p.id), '[]'),
        'resources', json_build_object(
            'volunteers', p.volunteers,
            'premises', coalesce((select json_agg(json_build_object('area', pm.area_code, 'description', pm.description)
                                                  order by pm.id)
                                  from provider_premises pm where pm.provider_id = p.id), '[]'),
            'match_funding_per_year', p.match_funding_per_year,
            'other_funding_sources', p.other_funding_sources,
            'partner_organisations', p.partner_organisations),
        'capacity', json_build_object('service_users_per_year', p.capacity_per_year),
        'finances', json_build_object('annual_income', p.annual_income, 'reserves_months', p.reserves_months::float8),
        'accreditations', coalesce((select json_agg(pa.accreditation_code order by pa.accreditation_code)
                                    from provider_accreditation pa where pa.provider_id = p.id), '[]'),
        'social_value', coalesce((select json_agg(s.commitment_code order by s.commitment_code)
                                  from provider_social_value s where s.provider_id = p.id), '[]')
    )
    from provider p where p.id = provider_id
$$;

create or replace function refresh_provider_search(ids bigint[]) returns void language sql as $$
    with src as (
        select p.id, lf.sector_code, x.pathways, x.cohorts, c.down, c.up_down, ac.codes,
            provider_profile_doc(p.id) as profile,
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
        search_doc          = src.doc,
        profile_doc         = src.profile
    from src where src.id = p.id;
$$;

drop table search_term;

select refresh_provider_search(array(select id from provider));
