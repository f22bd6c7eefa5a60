-- Profile documents built set-wise, and the refresh run by every write planned once.
--
-- `service_doc(s)` and `provider_profile_doc(id)` were SQL functions whose bodies hold subqueries, which PostgreSQL
-- never inlines: each call was planned and run apart, once per service and once per provider. The same documents now
-- come from set-returning SQL functions (`service_docs`, `provider_profile_docs`), which PostgreSQL inlines into the
-- query calling them; the two old functions read them. The documents are unchanged to the byte (their expressions
-- are 0014's, verbatim; compared for all 200,000 providers and 370,540 services of the benchmark's directory).
-- A profile document took 0.215 ms to build there, and now 0.098 ms.
--
-- refresh_provider_search (0007) builds its providers' profile documents in one set, and its plans are generic:
-- with the default plan choice PostgreSQL planned its statements afresh for every call (custom plans for the ids
-- given), about 2 ms for the one provider a write refreshes. Measured at 200,000 providers, indexes in place: a
-- one-provider refresh (every write to a profile) took 3.6 ms, now 1.5 ms; in batches of 5,000 with the secondary
-- indexes dropped (a bulk load) 0.78-0.94 ms a provider, now 0.51-0.60 ms.
--
-- The stored profile document is kept uncompressed (storage external): compressing ~3.4 KB of JSON took longer than
-- building it (rewriting a provider's two stored documents 0.27-0.36 ms compressed, 0.18 ms not), and reading a
-- profile no longer decompresses it.

create function service_docs(provider_ids bigint[])
returns table (provider_id bigint, id bigint, "position" integer, doc json) language sql stable as $$
    select s.provider_id, s.id, s.position, json_build_object(
        'pathway', s.pathway_code, 'name', s.name, 'description', s.description,
        'cohorts', (select coalesce(json_agg(sc.cohort_code order by co.sort_order, co.code), '[]')
                    from service_cohort sc join cohort co on co.code = sc.cohort_code where sc.service_id = s.id),
        'areas', (select coalesce(json_agg(sa.area_code order by sa.area_code), '[]')
                  from service_area sa where sa.service_id = s.id),
        'status', s.status,
        'eligibility', json_build_object('min_age', s.min_age, 'max_age', s.max_age, 'gender', s.gender),
        'capacity', json_build_object('service_users_per_year', s.capacity_per_year,
                                      'places_available', s.places_available, 'places_as_of', s.places_as_of),
        'delivery_modes', to_json(s.delivery_modes), 'complexity_levels', to_json(s.complexity_levels),
        'cost', case when s.cost_amount is null then null
                     else json_build_object('amount', s.cost_amount::float8, 'unit', s.cost_unit) end,
        'years_delivering', s.years_delivering,
        'outcomes', (select coalesce(json_agg(json_build_object(
                            'outcome', o.outcome, 'measure', o.measure, 'period', o.period, 'value', o.value::float8,
                            'people', o.people, 'source', o.source, 'reference', o.reference, 'note', o.note,
                            'desired_outcomes', to_json(o.desired_outcomes))
                        order by o.position, o.id), '[]')
                     from service_outcome o where o.service_id = s.id),
        'accreditations', (select coalesce(json_agg(a.accreditation_code order by a.accreditation_code), '[]')
                           from service_accreditation a where a.service_id = s.id),
        'id', s.id, 'uuid', s.uuid, 'version', s.version, 'last_confirmed_at', rfc3339(s.last_confirmed_at),
        'created_at', rfc3339(s.created_at), 'updated_at', rfc3339(s.updated_at),
        'verifications', (select coalesce(json_agg(x.doc order by x.kind, x.key), '[]') from (
            select 0 as kind, v.accreditation_code as key,
                   verification_doc(v, 'accreditations[' || v.accreditation_code || ']', null) as doc
            from evidence_verification v
            join service_accreditation a on a.service_id = s.id and a.accreditation_code = v.accreditation_code
            where v.service_id = s.id
            union all
            select 1, lpad(o.n::text, 6, '0'), verification_doc(v, 'outcomes[' || o.n || ']', o.n::int)
            from (select outcome_fingerprint(so) as fingerprint, row_number() over (order by so.position, so.id) - 1 as n
                  from service_outcome so where so.service_id = s.id) o
            join evidence_verification v on v.service_id = s.id and v.outcome_fingerprint = o.fingerprint) x))
    from service s where s.provider_id = any(provider_ids)
$$;

create or replace function service_doc(s service) returns json language sql stable as $$
    select d.doc from service_docs(array[s.provider_id]) d where d.id = s.id
$$;

create function provider_profile_docs(ids bigint[]) returns table (id bigint, doc json) language sql stable as $$
    select p.id, json_build_object(
        'id', p.id, 'name', p.name, 'legal_form', p.legal_form,
        'sector', (select lf.sector_code from legal_form lf where lf.code = p.legal_form),
        'identifiers', coalesce((select json_agg(i.identifier order by i.identifier)
                                 from provider_identifier i where i.provider_id = p.id), '[]'),
        'description', p.description, 'website', p.website, 'founded_year', p.founded_year,
        'contact', json_build_object('name', p.contact_name, 'email', p.contact_email, 'phone', p.contact_phone),
        'resources', json_build_object(
            'volunteers', p.volunteers,
            'premises', coalesce((select json_agg(json_build_object('area', pm.area_code, 'description', pm.description)
                                                  order by pm.id)
                                  from provider_premises pm where pm.provider_id = p.id), '[]'),
            'match_funding_per_year', p.match_funding_per_year,
            'other_funding_sources', p.other_funding_sources,
            'partner_organisations', p.partner_organisations),
        'finances', json_build_object('annual_income', p.annual_income, 'reserves_months', p.reserves_months::float8,
                                      'accounts_year_end', p.accounts_year_end,
                                      'accounts_scrutiny', p.accounts_scrutiny),
        'accreditations', coalesce((select json_agg(pa.accreditation_code order by pa.accreditation_code)
                                    from provider_accreditation pa where pa.provider_id = p.id), '[]'),
        'social_value', coalesce((select json_agg(sv.commitment_code order by sv.commitment_code)
                                  from provider_social_value sv where sv.provider_id = p.id), '[]'),
        'services', coalesce((select json_agg(d.doc order by d.position, d.id)
                              from service_docs(array[p.id]) d), '[]'),
        'verifications', coalesce((select json_agg(verification_doc(v, 'accreditations[' || v.accreditation_code || ']',
                                                                    null) order by v.accreditation_code)
                                   from evidence_verification v
                                   join provider_accreditation pa
                                     on pa.provider_id = p.id and pa.accreditation_code = v.accreditation_code
                                   where v.provider_id = p.id and v.service_id is null), '[]')
    )
    from provider p where p.id = any(ids)
$$;

create or replace function provider_profile_doc(provider_id bigint) returns json language sql stable as $$
    select d.doc from provider_profile_docs(array[provider_id]) d
$$;

alter table provider alter column profile_doc set storage external;

create or replace function refresh_provider_search(ids bigint[]) returns void language sql as $$
    update service s set
        cohort_codes = coalesce((select array_agg(sc.cohort_code order by sc.cohort_code)
                                 from service_cohort sc where sc.service_id = s.id), '{}'),
        area_codes = coalesce((select array_agg(sa.area_code order by sa.area_code)
                               from service_area sa where sa.service_id = s.id), '{}'),
        area_match_codes = coalesce((select array_agg(distinct a order by a) from (
                select cl.descendant as a from service_area sa
                join area_closure cl on cl.ancestor = sa.area_code where sa.service_id = s.id
                union
                select cl.ancestor from service_area sa
                join area_closure cl on cl.descendant = sa.area_code where sa.service_id = s.id) u), '{}'),
        accreditation_codes = coalesce((select array_agg(a.accreditation_code order by a.accreditation_code)
                                        from service_accreditation a where a.service_id = s.id), '{}')
    where s.provider_id = any(ids);

    with src as (
        select p.id, lf.sector_code, x.pathways, x.cohorts, c.down, c.up_down, ac.codes,
            d.doc as profile,
            setweight(to_tsvector('simple', fold(p.name)), 'A')
            || setweight(to_tsvector('simple', fold(coalesce(x.pathway_text, '') || ' ' || coalesce(c.area_text, ''))), 'B')
            || setweight(to_tsvector('simple', fold(p.description || ' ' || coalesce(x.service_text, '')
                   || ' ' || coalesce(pr.premises_text, ''))), 'C') as doc
        from provider p
        join legal_form lf on lf.code = p.legal_form
        join provider_profile_docs(ids) d on d.id = p.id
        cross join lateral (
            select array_agg(distinct s.pathway_code order by s.pathway_code) as pathways,
                   (select array_agg(distinct c order by c) from service s2, unnest(s2.cohort_codes) c
                    where s2.provider_id = p.id and s2.status = 'active') as cohorts,
                   string_agg(distinct pw.name || ' ' || array_to_string(pw.synonyms, ' '), ' ') as pathway_text,
                   string_agg(s.name || ' ' || s.description || ' ' || coalesce((
                       select string_agg(o.outcome || ' ' || o.measure || ' ' || coalesce(o.note, ''), ' ')
                       from service_outcome o where o.service_id = s.id), ''), ' ') as service_text
            from service s join pathway pw on pw.code = s.pathway_code
            where s.provider_id = p.id and s.status = 'active'
        ) x
        cross join lateral (
            select (select array_agg(distinct cl.descendant order by cl.descendant)
                      from service s join service_area sa on sa.service_id = s.id
                      join area_closure cl on cl.ancestor = sa.area_code
                      where s.provider_id = p.id and s.status = 'active') as down,
                   (select array_agg(distinct a order by a) from service s, unnest(s.area_match_codes) a
                    where s.provider_id = p.id and s.status = 'active') as up_down,
                   (select string_agg(distinct a.name, ' ')
                      from service s join service_area sa on sa.service_id = s.id
                      join area_closure cl on cl.ancestor = sa.area_code
                      join area a on a.code = cl.descendant
                      where s.provider_id = p.id and s.status = 'active') as area_text
        ) c
        cross join lateral (
            select array_agg(distinct code order by code) as codes from (
                select pa.accreditation_code as code from provider_accreditation pa where pa.provider_id = p.id
                union all
                select a from service s, unnest(s.accreditation_codes) a where s.provider_id = p.id and s.status = 'active'
            ) u
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

alter function refresh_provider_search(bigint[]) set plan_cache_mode = force_generic_plan;
