-- API keys, the append-only profile history (Open Referral HSDS metadata shape) and the audit log.

create table api_key (
    id           bigint generated always as identity primary key,
    name         text not null check (length(btrim(name)) between 1 and 200),
    role         text not null check (role in ('admin', 'commissioner', 'provider')),
    provider_id  bigint references provider (id) on delete restrict,
    key_hash     bytea not null unique check (length(key_hash) = 32),  -- HMAC-SHA256(secret, key)
    hint         text not null check (length(hint) between 4 and 16),  -- the key's first characters, for lists
    created_at   timestamptz not null default now(),
    created_by   bigint references api_key (id),
    last_used_at timestamptz,
    revoked_at   timestamptz,
    check ((role = 'provider') = (provider_id is not null))
);
create index api_key_provider on api_key (provider_id);

alter table provider add column verified_at timestamptz;

-- One row per changed field, written in the same transaction as the change.
create table profile_history (
    id                bigint generated always as identity primary key,
    resource_id       bigint not null references provider (id) on delete restrict,
    resource_type     text not null default 'provider',
    version           int not null check (version >= 1),
    last_action_date  timestamptz not null default now(),
    last_action_type  text not null check (last_action_type in ('create', 'update', 'confirm', 'publish', 'archive', 'verify')),
    field_name        text not null check (length(field_name) between 1 and 200),
    previous_value    jsonb,
    replacement_value jsonb,
    updated_by        bigint references api_key (id),
    updated_by_role   text check (updated_by_role in ('admin', 'commissioner', 'provider', 'anonymous', 'system')),
    request_id        text
);
create index profile_history_resource on profile_history (resource_id, id desc);

-- Every write and every denied attempt.
create table audit_log (
    id          bigint generated always as identity primary key,
    at          timestamptz not null default now(),
    request_id  text,
    key_id      bigint references api_key (id),
    role        text,
    method      text not null,
    path        text not null,
    status      int not null check (status between 100 and 599),
    outcome     text not null check (outcome in ('write', 'denied')),
    provider_id bigint,
    detail      text not null default ''
);
create index audit_log_at on audit_log (at desc, id desc);
create index audit_log_key on audit_log (key_id, at desc);
create index audit_log_provider on audit_log (provider_id, at desc);

-- Registrations, for the per-client rate limit.
create table registration_attempt (
    id     bigint generated always as identity primary key,
    client text not null,
    at     timestamptz not null default now()
);
create index registration_attempt_client on registration_attempt (client, at desc);

create function reject_change() returns trigger language plpgsql as $$
begin
    raise exception '% is append-only: % refused', tg_table_name, tg_op using errcode = 'insufficient_privilege';
end
$$;

create trigger profile_history_append_only before update or delete on profile_history
    for each row execute function reject_change();
create trigger profile_history_no_truncate before truncate on profile_history
    for each statement execute function reject_change();
create trigger audit_log_append_only before update or delete on audit_log
    for each row execute function reject_change();
create trigger audit_log_no_truncate before truncate on audit_log
    for each statement execute function reject_change();
