-- Commissioning exercises, their needs (lots), and stored match and partnership runs.
-- Runs are evidence for an audit: stored once, never changed (a trigger refuses UPDATE and DELETE).

create table exercise (
    id                 bigint generated always as identity primary key,
    title              text not null check (length(btrim(title)) between 1 and 200),
    commissioning_body text not null check (length(btrim(commissioning_body)) between 1 and 200),
    description        text not null default '' check (length(description) <= 4000),
    status             text not null default 'draft' check (status in ('draft', 'engagement_open', 'closed')),
    opens_on           date,
    closes_on          date,
    default_weights    jsonb not null default '{}' check (jsonb_typeof(default_weights) = 'object'),
    is_sample          boolean not null default false,
    version            int not null default 1 check (version >= 1),
    created_by         bigint references api_key (id),
    created_at         timestamptz not null default now(),
    updated_at         timestamptz not null default now(),
    check (closes_on is null or opens_on is null or closes_on >= opens_on)
);

create table need (
    id                   bigint generated always as identity primary key,
    exercise_id          bigint not null references exercise (id) on delete restrict,
    title                text not null check (length(btrim(title)) between 1 and 200),
    pathway_code         text not null references pathway (code),
    annual_volume        int not null check (annual_volume >= 0),
    annual_budget        bigint not null check (annual_budget >= 0),
    contract_years       numeric(4, 1) not null default 1 check (contract_years > 0 and contract_years <= 25),
    min_years_experience int not null default 0 check (min_years_experience between 0 and 200),
    local_priorities     jsonb not null default '[]' check (jsonb_typeof(local_priorities) = 'array'),
    sector_preference    jsonb not null default '{}' check (jsonb_typeof(sector_preference) = 'object'),
    weight_overrides     jsonb check (weight_overrides is null or jsonb_typeof(weight_overrides) = 'object'),
    position             int not null default 0,
    version              int not null default 1 check (version >= 1),
    created_at           timestamptz not null default now(),
    updated_at           timestamptz not null default now()
);
create index need_exercise on need (exercise_id, position, id);

create table need_cohort (
    need_id     bigint not null references need (id) on delete cascade,
    cohort_code text not null references cohort (code),
    primary key (need_id, cohort_code)
);

create table need_area (
    need_id   bigint not null references need (id) on delete cascade,
    area_code text not null references area (code),
    primary key (need_id, area_code)
);

create table need_accreditation (
    need_id            bigint not null references need (id) on delete cascade,
    accreditation_code text not null references accreditation (code),
    primary key (need_id, accreditation_code)
);

create table match_run (
    id                bigint generated always as identity primary key,
    need_id           bigint not null references need (id) on delete restrict,
    exercise_id       bigint not null references exercise (id) on delete restrict,
    created_at        timestamptz not null default now(),
    created_by        bigint references api_key (id),
    algorithm_version text not null,
    candidate_count   int not null check (candidate_count >= 0),
    document          jsonb not null  -- the run exactly as returned: inputs, ranking, exclusions
);
create index match_run_need on match_run (need_id, id desc);
create index match_run_exercise on match_run (exercise_id, id desc);

create table partnership_run (
    id                bigint generated always as identity primary key,
    exercise_id       bigint not null references exercise (id) on delete restrict,
    created_at        timestamptz not null default now(),
    created_by        bigint references api_key (id),
    algorithm_version text not null,
    match_run_ids     bigint[] not null,
    document          jsonb not null
);
create index partnership_run_exercise on partnership_run (exercise_id, id desc);

create trigger match_run_immutable before update or delete on match_run
    for each row execute function reject_change();
create trigger match_run_no_truncate before truncate on match_run
    for each statement execute function reject_change();
create trigger partnership_run_immutable before update or delete on partnership_run
    for each row execute function reject_change();
create trigger partnership_run_no_truncate before truncate on partnership_run
    for each statement execute function reject_change();
