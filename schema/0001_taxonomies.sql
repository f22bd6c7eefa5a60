-- Taxonomies: areas (ONS GSS hierarchy), pathways, cohorts, sectors, legal forms,
-- accreditations and social-value commitments. Rows come from seed_data/.

create extension if not exists pg_trgm;
create extension if not exists unaccent;

-- unaccent() is only STABLE; an IMMUTABLE wrapper with an explicit dictionary can be indexed.
create function fold(text) returns text
    language sql immutable parallel safe strict
    return lower(public.unaccent('public.unaccent'::regdictionary, $1));

create table area (
    code        text primary key check (code ~ '^[EWSN][0-9]{8}$'),
    name        text not null unique check (length(name) between 1 and 200),
    kind        text not null check (kind in ('police_force_area', 'county', 'district', 'unitary')),
    parent_code text references area (code),
    check (parent_code is distinct from code)
);

-- Transitive closure of the hierarchy (depth 0 = the area itself); rebuilt by refresh_area_closure().
create table area_closure (
    ancestor   text not null references area (code) on delete cascade,
    descendant text not null references area (code) on delete cascade,
    depth      int  not null check (depth >= 0),
    primary key (ancestor, descendant)
);
create index area_closure_descendant on area_closure (descendant);

create function refresh_area_closure() returns void language sql as $$
    delete from area_closure;
    insert into area_closure (ancestor, descendant, depth)
    with recursive up (ancestor, descendant, depth) as (
        select code, code, 0 from area
        union all
        select a.parent_code, up.descendant, up.depth + 1
        from up join area a on a.code = up.ancestor
        where a.parent_code is not null
    )
    select ancestor, descendant, depth from up;
$$;

create table pathway (
    code        text primary key check (code ~ '^[A-Z][A-Z_]{1,31}$'),
    name        text not null unique check (length(name) between 1 and 200),
    description text not null default '',
    synonyms    text[] not null default '{}',
    sort_order  int not null default 0
);

create table cohort (
    code        text primary key check (code ~ '^[A-Z][A-Z_]{1,31}$'),
    name        text not null unique,
    description text not null default '',
    min_age     int check (min_age between 0 and 120),
    max_age     int check (max_age between 0 and 120),
    sort_order  int not null default 0,
    check (min_age is null or max_age is null or min_age <= max_age)
);

create table sector (
    code        text primary key check (code ~ '^[a-z][a-z0-9_]{1,47}$'),
    name        text not null unique,
    description text not null default '',
    sort_order  int not null default 0
);

create table legal_form (
    code               text primary key check (code ~ '^[a-z][a-z0-9_]{1,47}$'),
    name               text not null unique,
    sector_code        text not null references sector (code),
    identifier_schemes text[] not null default '{}',
    sort_order         int not null default 0
);

create table accreditation (
    code       text primary key check (code ~ '^[a-z][a-z0-9_]{1,47}$'),
    name       text not null unique,
    awarded_by text not null default '',
    sort_order int not null default 0
);

create table social_value_commitment (
    code       text primary key check (code ~ '^[a-z][a-z0-9_]{1,47}$'),
    name       text not null unique,
    sort_order int not null default 0
);
