-- The audit log by month, so that it can be kept for a retention period and no longer, while staying append-only
-- for the API: each month is a partition; only the owner (a maintenance role: `marketplace audit-partitions
-- --drop-expired`) can drop a whole month once it is past the retention period. The API's role may read and add.
--
-- Also: `request_id` is always the server's own id for the request; the id a client sent (X-Request-ID) is kept
-- in `client_request_id`. `client` is the address the request came from. `requests` is how many requests a row
-- stands for: 1, except for a worker's summary of the denied requests one client made in one minute beyond the
-- first (see marketplace/audit.py).

alter table audit_log rename to audit_log_before_0009;

create sequence audit_log_seq;
select setval('audit_log_seq', coalesce((select max(id) from audit_log_before_0009), 0) + 1, false);

create table audit_log (
    id                bigint not null default nextval('audit_log_seq'),
    at                timestamptz not null default now(),
    request_id        text,
    client_request_id text,
    client            text,
    key_id            bigint references api_key (id),
    role              text,
    method            text not null,
    path              text not null,
    status            int not null check (status between 100 and 599),
    outcome           text not null check (outcome in ('write', 'denied')),
    provider_id       bigint,
    detail            text not null default '',
    requests          int not null default 1 check (requests >= 1),
    primary key (id, at)
) partition by range (at);
alter sequence audit_log_seq owned by audit_log.id;

-- rows for a month that has no partition yet (none should: partitions are made a year ahead)
create table audit_log_default partition of audit_log default;

-- One month's partition (idempotent). Run by the owner; the API's role may only read it and add to it.
create function audit_log_partition(month date) returns text language plpgsql as $$
declare
    first date := date_trunc('month', month)::date;
    name text := format('audit_log_y%sm%s', to_char(first, 'YYYY'), to_char(first, 'MM'));
begin
    if to_regclass('public.' || name) is null then
        execute format('create table %I partition of audit_log for values from (%L) to (%L)',
                       name, first::timestamptz, (first + interval '1 month')::timestamptz);
        if exists (select from pg_roles where rolname = 'marketplace_app') then
            execute format('revoke all on %I from marketplace_app', name);
        end if;
    end if;
    return name;
end
$$;
revoke all on function audit_log_partition(date) from public;

select audit_log_partition(m::date)
  from generate_series(date_trunc('month', coalesce((select min(at) from audit_log_before_0009), now())),
                       date_trunc('month', now()) + interval '12 months', interval '1 month') m;

insert into audit_log (id, at, request_id, key_id, role, method, path, status, outcome, provider_id, detail)
select id, at, request_id, key_id, role, method, path, status, outcome, provider_id, detail
  from audit_log_before_0009;
drop table audit_log_before_0009;

create index audit_log_at on audit_log (at desc, id desc);
create index audit_log_key on audit_log (key_id, at desc);
create index audit_log_provider on audit_log (provider_id, at desc);

create trigger audit_log_append_only before update or delete on audit_log
    for each row execute function reject_change();
create trigger audit_log_no_truncate before truncate on audit_log
    for each statement execute function reject_change();

revoke all on audit_log from marketplace_app;
grant select, insert on audit_log to marketplace_app;
revoke all on audit_log_default from marketplace_app;
