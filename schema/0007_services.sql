-- Services: what a provider offers, per pathway, where, for whom, how many and at what cost (Open Referral HSDS:
-- an organisation has services, each with its own service areas, eligibility, capacity and cost options).
--
-- Each expertise line becomes one service in the organisation's coverage. An organisation with one pathway keeps its
-- capacity on that service; with several, the capacity is left unknown (never split by guesswork) and the profile
-- is marked for the provider to confirm. Free-text outcomes evidence becomes one self-declared outcomes record
-- holding the text. What was there before is recorded in each provider's history ('migrate'), so nothing is lost;
-- then the expertise, coverage and organisation-wide capacity go.

create table service (
    id                 bigint generated always as identity primary key,
    uuid               uuid not null unique default gen_random_uuid(),
    provider_id        bigint not null references provider (id) on delete cascade,
    pathway_code       text not null references pathway (code),
    name               text not null check (length(btrim(name)) between 1 and 200),
    description        text not null check (length(description) between 1 and 4000),
    status             text not null default 'active' check (status in ('active', 'inactive')),
    min_age            int check (min_age between 0 and 120),
    max_age            int check (max_age between 0 and 120),
    gender             text not null default 'both' check (gender in ('men', 'women', 'both')),
    capacity_per_year  int check (capacity_per_year >= 0),
    places_available   int check (places_available >= 0),
    places_as_of       date,
    delivery_modes     text[] not null default '{}'
                       check (delivery_modes <@ array['in_person', 'outreach', 'remote', 'residential']),
    complexity_levels  text[] not null default '{}' check (complexity_levels <@ array['low', 'medium', 'high']),
    cost_amount        numeric(12, 2) check (cost_amount >= 0),
    cost_unit          text check (cost_unit in ('per_service_user', 'per_place_per_year', 'per_hour', 'per_session')),
    years_delivering   int not null default 0 check (years_delivering between 0 and 200),
    position           int not null default 0,
    version            int not null default 1 check (version >= 1),
    last_confirmed_at  timestamptz,
    created_at         timestamptz not null default now(),
    updated_at         timestamptz not null default now(),
    -- derived by refresh_provider_search() in the transaction of every write, for search and matching
    cohort_codes       text[] not null default '{}',
    area_codes         text[] not null default '{}',  -- the service areas as given
    area_match_codes   text[] not null default '{}',  -- ... with every area above and below them
    accreditation_codes text[] not null default '{}',
    check (min_age is null or max_age is null or min_age <= max_age),
    check ((places_available is null) = (places_as_of is null)),
    check ((cost_amount is null) = (cost_unit is null)),
    check (updated_at >= created_at)
);
create index service_provider on service (provider_id, position, id);

create table service_area (
    service_id bigint not null references service (id) on delete cascade,
    area_code  text not null references area (code),
    primary key (service_id, area_code)
);
create index service_area_area on service_area (area_code);

create table service_cohort (
    service_id  bigint not null references service (id) on delete cascade,
    cohort_code text not null references cohort (code),
    primary key (service_id, cohort_code)
);

create table service_accreditation (
    service_id         bigint not null references service (id) on delete cascade,
    accreditation_code text not null references accreditation (code),
    primary key (service_id, accreditation_code)
);

-- Outcomes evidence as records: what outcome, measured how, the figure, over what period, for how many people,
-- said by whom, and where to check it.
create table service_outcome (
    id         bigint generated always as identity primary key,
    service_id bigint not null references service (id) on delete cascade,
    position   int not null default 0,
    outcome    text not null check (length(btrim(outcome)) between 1 and 200),
    measure    text not null check (length(btrim(measure)) between 1 and 200),
    value      numeric(16, 4),
    period     text not null check (length(btrim(period)) between 1 and 200),
    people     int check (people >= 0),
    source     text not null default 'self_declared'
               check (source in ('self_declared', 'independently_evaluated', 'commissioner_reported')),
    reference  text check (length(reference) <= 300),
    note       text check (length(note) <= 4000)
);
create index service_outcome_service on service_outcome (service_id, position);

-- The organisation's accounts, and what the marketplace asks the provider to confirm.
alter table provider add column accounts_year_end date;
alter table provider add column accounts_scrutiny text
    check (accounts_scrutiny in ('audited', 'independently_examined', 'unscrutinised'));
alter table provider add column to_confirm text[] not null default '{}';

-- Whom a need is for, when the commissioner says: an age range and men or women (services must serve them).
alter table need add column eligibility jsonb not null default '{}' check (jsonb_typeof(eligibility) = 'object');

-- History: the migration itself, and services removed, are recorded like any other change.
alter table profile_history drop constraint profile_history_last_action_type_check;
alter table profile_history add constraint profile_history_last_action_type_check
    check (last_action_type in ('create', 'update', 'delete', 'confirm', 'publish', 'archive', 'verify', 'migrate'));

-- --- the migration --------------------------------------------------------------------------------------------

create temporary table expertise_before on commit drop as
select p.id as provider_id, p.capacity_per_year,
       (select count(*) from provider_expertise e where e.provider_id = p.id) as pathways,
       coalesce((select json_agg(json_build_object(
            'pathway', e.pathway_code,
            'cohorts', (select coalesce(json_agg(ec.cohort_code order by ec.cohort_code), '[]')
                        from provider_expertise_cohort ec
                        where ec.provider_id = e.provider_id and ec.pathway_code = e.pathway_code),
            'years_experience', e.years_experience, 'description', e.description,
            'outcomes_evidence', e.outcomes_evidence) order by e.position, e.pathway_code)
        from provider_expertise e where e.provider_id = p.id), '[]') as expertise,
       coalesce((select json_agg(pc.area_code order by pc.area_code)
                 from provider_coverage pc where pc.provider_id = p.id), '[]') as coverage
from provider p;

insert into service (provider_id, pathway_code, name, description, capacity_per_year, years_delivering, position,
                     last_confirmed_at, created_at, updated_at)
select e.provider_id, e.pathway_code, pw.name, e.description,
       case when b.pathways = 1 then p.capacity_per_year end,
       e.years_experience, e.position, p.last_confirmed_at, p.created_at, greatest(p.updated_at, p.created_at)
from provider_expertise e
join provider p on p.id = e.provider_id
join pathway pw on pw.code = e.pathway_code
join expertise_before b on b.provider_id = e.provider_id
order by e.provider_id, e.position, e.pathway_code;

insert into service_area (service_id, area_code)
select s.id, pc.area_code from service s join provider_coverage pc on pc.provider_id = s.provider_id;

insert into service_cohort (service_id, cohort_code)
select s.id, ec.cohort_code
from service s join provider_expertise_cohort ec on ec.provider_id = s.provider_id and ec.pathway_code = s.pathway_code;

insert into service_outcome (service_id, outcome, measure, period, source, note)
select s.id, 'Outcomes as described by the provider', 'described in the provider''s own words', 'not stated',
       'self_declared', e.outcomes_evidence
from service s
join provider_expertise e on e.provider_id = s.provider_id and e.pathway_code = s.pathway_code
where e.outcomes_evidence is not null and btrim(e.outcomes_evidence) <> '';

update provider p set to_confirm = array['the capacity of each service: the organisation-wide figure ('
       || p.capacity_per_year || ' a year) was not split between its ' || b.pathways || ' services']
from expertise_before b
where b.provider_id = p.id and b.pathways > 1 and p.capacity_per_year is not null;

insert into profile_history (resource_id, version, last_action_type, field_name, previous_value, replacement_value,
                             updated_by_role)
select b.provider_id, p.version, 'migrate', 'services',
       json_build_object('expertise', b.expertise, 'coverage', b.coverage,
                         'capacity', json_build_object('service_users_per_year', b.capacity_per_year))::jsonb,
       coalesce((select jsonb_agg(jsonb_build_object('id', s.id, 'uuid', s.uuid, 'pathway', s.pathway_code,
                                                     'capacity_per_year', s.capacity_per_year) order by s.position, s.id)
                 from service s where s.provider_id = b.provider_id), '[]'),
       'system'
from expertise_before b join provider p on p.id = b.provider_id
where b.pathways > 0 or jsonb_array_length(b.coverage::jsonb) > 0 or b.capacity_per_year is not null;

drop table provider_expertise_cohort;
drop table provider_expertise;
drop table provider_coverage;
alter table provider drop column capacity_per_year;

-- --- derived columns and documents ----------------------------------------------------------------------------

-- An instant as the API writes it everywhere (RFC 3339 in UTC, microseconds only when there are any), so a
-- document built here reads exactly like one the application encodes.
create function rfc3339(t timestamptz) returns text language sql immutable parallel safe as $$
    select to_char(t at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
           || case when date_part('microseconds', t)::bigint % 1000000 = 0 then ''
                   else '.' || to_char(t at time zone 'UTC', 'US') end
           || 'Z'
$$;

-- A service as the API returns it.
create function service_doc(s service) returns json language sql stable as $$
    select json_build_object(
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
                            'people', o.people, 'source', o.source, 'reference', o.reference, 'note', o.note)
                        order by o.position, o.id), '[]')
                     from service_outcome o where o.service_id = s.id),
        'accreditations', (select coalesce(json_agg(a.accreditation_code order by a.accreditation_code), '[]')
                           from service_accreditation a where a.service_id = s.id),
        'id', s.id, 'uuid', s.uuid, 'version', s.version, 'last_confirmed_at', rfc3339(s.last_confirmed_at),
        'created_at', rfc3339(s.created_at), 'updated_at', rfc3339(s.updated_at))
$$;

-- The profile document as the child tables and the row say now (see 0006): services instead of expertise,
-- coverage and capacity; the accounts' year end and scrutiny.
create or replace function provider_profile_doc(provider_id bigint) returns json language sql stable as $$
    select json_build_object(
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
        'services', coalesce((select json_agg(service_doc(s) order by s.position, s.id)
                              from service s where s.provider_id = p.id), '[]')
    )
    from provider p where p.id = provider_id
$$;

-- Derived columns of the providers `ids` and their services, their search documents and profile documents.
-- Provider-level codes come from the active services; the search document holds the services' names,
-- descriptions and outcomes records.
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
            provider_profile_doc(p.id) as profile,
            setweight(to_tsvector('simple', fold(p.name)), 'A')
            || setweight(to_tsvector('simple', fold(coalesce(x.pathway_text, '') || ' ' || coalesce(c.area_text, ''))), 'B')
            || setweight(to_tsvector('simple', fold(p.description || ' ' || coalesce(x.service_text, '')
                   || ' ' || coalesce(pr.premises_text, ''))), 'C') as doc
        from provider p
        join legal_form lf on lf.code = p.legal_form
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

-- statistics for the tables just filled, or the planner takes them for empty and the refresh crawls
analyze service;
analyze service_area;
analyze service_cohort;
analyze service_accreditation;
analyze service_outcome;
select refresh_provider_search(array(select id from provider));
