-- The browser console (issue 17): signed-in sessions and commissioners' shortlists.
--
-- A session is a random id kept in an HttpOnly cookie; the row holds only its SHA-256 (a leaked table cannot be
-- replayed as cookies), the API key it acts for (never the key itself: every request looks the key up, so revoking
-- the key ends its sessions) and the CSRF token every form carries. Sessions expire after 8 hours idle.
create table console_session (
    id_hash      bytea primary key check (length(id_hash) = 32),
    key_id       bigint not null references api_key (id) on delete cascade,
    csrf_token   text not null check (length(csrf_token) between 32 and 128),
    created_at   timestamptz not null default now(),
    last_seen_at timestamptz not null default now()
);
create index console_session_seen on console_session (last_seen_at);

-- A shortlist per need: the providers commissioners have picked out (shared by the need's commissioners; each
-- addition names who made it; additions and removals are in the audit log).
create table console_shortlist (
    need_id     bigint not null references need (id) on delete cascade,
    provider_id bigint not null references provider (id) on delete cascade,
    added_by    bigint references api_key (id),
    added_at    timestamptz not null default now(),
    primary key (need_id, provider_id)
);
