-- Providers and the parts of a profile, normalised with foreign keys to the taxonomies.
-- The provider row also carries derived search columns, rebuilt by refresh_provider_search()
-- in the same transaction as every write.

create table provider (
    id                     bigint generated always as identity primary key,
    name                   text not null check (length(btrim(name)) between 2 and 200),
    legal_form             text not null references legal_form (code),
    description            text not null default '' check (length(description) <= 4000),
    website                text check (website ~ '^https?://[^\x01-\x20\x7f-\x9f]+$'),
    founded_year           int check (founded_year between 1600 and 2100),
    contact_name           text check (length(contact_name) <= 200),
    contact_email          text check (contact_email ~ '^[^@\x01-\x20\x7f-\x9f]+@[^@\x01-\x20\x7f-\x9f]+\.[^@\x01-\x20\x7f-\x9f]+$'),
    contact_phone          text check (contact_phone ~ '^\+?[0-9 ()-]{6,20}$'),
    volunteers             int not null default 0 check (volunteers >= 0),
    match_funding_per_year bigint not null default 0 check (match_funding_per_year >= 0),
    other_funding_sources  text[] not null default '{}',
    partner_organisations  text[] not null default '{}',
    capacity_per_year      int check (capacity_per_year >= 0),
    annual_income          bigint check (annual_income >= 0),
    reserves_months        numeric(6, 2) check (reserves_months between 0 and 600),
    status                 text not null default 'pending' check (status in ('pending', 'published', 'archived')),
    is_sample              boolean not null default false,
    version                int not null default 1 check (version >= 1),
    created_at             timestamptz not null default now(),
    updated_at             timestamptz not null default now(),
    last_confirmed_at      timestamptz,
    -- derived, for search and facets (see refresh_provider_search)
    sector                 text references sector (code),
    pathway_codes          text[] not null default '{}',
    cohort_codes           text[] not null default '{}',
    coverage_codes         text[] not null default '{}',  -- areas covered, with every area below them
    area_match_codes       text[] not null default '{}',  -- ... and every area above them
    accreditation_codes    text[] not null default '{}',
    search_doc             tsvector not null default ''::tsvector,
    check (updated_at >= created_at)
);

create table provider_identifier (
    identifier  text primary key check (identifier ~ '^GB-(CHC|COH|MPR|SC|NIC|GOR|LAE|NHS)-[A-Z0-9-]{2,20}$'),
    provider_id bigint not null references provider (id) on delete cascade,
    scheme      text generated always as (split_part(identifier, '-', 1) || '-' || split_part(identifier, '-', 2)) stored
);
create index provider_identifier_provider on provider_identifier (provider_id);

create table provider_expertise (
    provider_id       bigint not null references provider (id) on delete cascade,
    pathway_code      text not null references pathway (code),
    years_experience  int not null check (years_experience between 0 and 200),
    description       text not null check (length(description) between 1 and 4000),
    outcomes_evidence text check (length(outcomes_evidence) <= 4000),
    position          int not null default 0,
    primary key (provider_id, pathway_code)
);

create table provider_expertise_cohort (
    provider_id  bigint not null,
    pathway_code text not null,
    cohort_code  text not null references cohort (code),
    primary key (provider_id, pathway_code, cohort_code),
    foreign key (provider_id, pathway_code) references provider_expertise (provider_id, pathway_code) on delete cascade
);

create table provider_coverage (
    provider_id bigint not null references provider (id) on delete cascade,
    area_code   text not null references area (code),
    primary key (provider_id, area_code)
);
create index provider_coverage_area on provider_coverage (area_code);

create table provider_premises (
    id          bigint generated always as identity primary key,
    provider_id bigint not null references provider (id) on delete cascade,
    area_code   text not null references area (code),
    description text not null check (length(description) between 1 and 200)
);
create index provider_premises_provider on provider_premises (provider_id);

create table provider_accreditation (
    provider_id        bigint not null references provider (id) on delete cascade,
    accreditation_code text not null references accreditation (code),
    primary key (provider_id, accreditation_code)
);

create table provider_social_value (
    provider_id     bigint not null references provider (id) on delete cascade,
    commitment_code text not null references social_value_commitment (code),
    primary key (provider_id, commitment_code)
);

-- Vocabulary of every word in any search document: typo'd query words are mapped onto it
-- by trigram similarity, then the corrected words run as a full-text query.
create table search_term (
    word text primary key check (word ~ '^[a-z0-9]{2,40}$')
);
create index search_term_trgm on search_term using gin (word gin_trgm_ops);

create function refresh_provider_search(ids bigint[]) returns void language sql as $$
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

    insert into search_term (word)
    select distinct w
    from provider p, unnest(tsvector_to_array(p.search_doc)) w
    where p.id = any(ids) and w ~ '^[a-z0-9]{2,40}$'
    on conflict do nothing;
$$;

create index provider_status_name on provider (status, name, id);
create index provider_pathways on provider using gin (pathway_codes);
create index provider_cohorts on provider using gin (cohort_codes);
create index provider_areas on provider using gin (area_match_codes);
create index provider_accreditations on provider using gin (accreditation_codes);
create index provider_search_doc on provider using gin (search_doc);
create index provider_name_trgm on provider using gin (fold(name) gin_trgm_ops);
