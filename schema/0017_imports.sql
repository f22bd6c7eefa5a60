-- Imports (issue 16, item 4): a file of organisations and services read as a dry run, stored with what each row
-- would be (new, a duplicate of a provider, ambiguous, bad), and the admin's commit of the rows accepted. Both are
-- append-only, like the runs and reports: the API may read and add rows, never change or remove them. An import
-- is committed when its commit row exists (one at most: `import_id` is unique).
create table import_run (
    id          bigint generated always as identity primary key,
    created_at  timestamptz not null default now(),
    created_by  bigint references api_key (id),
    filename    text not null default '' check (length(filename) <= 300),
    format      text not null check (format in ('csv', 'xlsx', 'hsds')),
    summary     jsonb not null,  -- counts by verdict
    rows        jsonb not null,  -- the dry run's report: every row with its verdict
    profiles    jsonb not null   -- per reported row, the profile it would create (null for a bad row)
);

create table import_commit (
    id          bigint generated always as identity primary key,
    import_id   bigint not null unique references import_run (id) on delete restrict,
    created_at  timestamptz not null default now(),
    created_by  bigint references api_key (id),
    accepted    int[] not null,
    results     jsonb not null   -- per accepted row: created (the new pending provider) or not_applied, and why
);

create trigger import_run_immutable before update or delete on import_run
    for each row execute function reject_change();
create trigger import_run_no_truncate before truncate on import_run
    for each statement execute function reject_change();
create trigger import_commit_immutable before update or delete on import_commit
    for each row execute function reject_change();
create trigger import_commit_no_truncate before truncate on import_commit
    for each statement execute function reject_change();

grant select, insert on import_run, import_commit to marketplace_app;
revoke update, delete, truncate on import_run, import_commit from marketplace_app;
