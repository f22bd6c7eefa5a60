-- What the API's own role could do around the API without a trace (a review as an external auditor found each),
-- closed. The guarantee stays the one the README states: the API's role cannot rewrite or date a record, and
-- every change it can make is recorded; who acted is what the application says (it authenticates the keys; the
-- database cannot tell its sessions from another client logging in as the same role).

-- 1. An API key's secret (its hash), role and provider are fixed when the key is made: the API's role may change
--    only when it was last used and its revocation, and may delete none. Before, an UPDATE of key_hash alone (left
--    out of the change history, which never shows a hash) gave one key another's secret, unrecorded.
revoke update, delete on api_key from marketplace_app;
grant update (last_used_at, revoked_at) on api_key to marketplace_app;

-- 2. The audit log's, the profile history's and the market responses' times of recording are the database's: a row
--    added with any other is refused (a backdated audit row or profile change before, for instance). The app
--    leaves them to their defaults (now(): the transaction's start, the time the change history gives too). A role
--    owning the table (the migrations', which could set the trigger aside anyway) may still date a row: restores,
--    and the audit log's retention tests, which need last decade's months.
create function dated_by_the_database() returns trigger
    language plpgsql
    set search_path = pg_catalog, pg_temp
as $$
begin
    if (to_jsonb(new) ->> tg_argv[0])::timestamptz is distinct from now()
       and not pg_has_role(current_user, (select relowner from pg_class where oid = tg_relid), 'USAGE') then
        raise exception '%.% is the database''s clock: leave it to its default', tg_table_name, tg_argv[0]
            using errcode = 'insufficient_privilege';
    end if;
    return new;
end
$$;
revoke all on function dated_by_the_database() from public;

create trigger audit_log_dated before insert on audit_log
    for each row execute function dated_by_the_database('at');
create trigger profile_history_dated before insert on profile_history
    for each row execute function dated_by_the_database('last_action_date');

-- A response's created_at is the application's clock (what a deadline is judged by, and what tests set); beside it,
-- recorded_at is the database's, so a revision added around the API cannot pass for an earlier one. Null on the
-- revisions stored before this migration (the column is added, not filled: the table is append-only).
alter table engagement_response add column recorded_at timestamptz;
alter table engagement_response alter column recorded_at set default now();
create trigger engagement_response_dated before insert on engagement_response
    for each row execute function dated_by_the_database('recorded_at');

-- 3. A profile's standing and its verified evidence, in the change history too (their own history, profile_history,
--    is written by the app's code, so a change made around the API left no trace): a provider's status (pending,
--    published, archived) and its verified mark, and every evidence verification added or withdrawn, under the
--    provider's record (GET /changes?table=provider&record_id=...).
create constraint trigger evidence_verification_changes after insert or update or delete on evidence_verification
    deferrable initially deferred for each row execute function record_change('provider', 'provider_id');

-- Only the named columns of an update, when one of them changed (the provider row's other columns are its profile,
-- recorded field by field in profile_history, and search columns that move on every write). As record_change: runs
-- as the owner, who acted from the transaction's settings.
create function record_columns() returns trigger
    language plpgsql security definer
    set search_path = pg_catalog, pg_temp
    set timezone = 'UTC'
as $$
declare
    old_row jsonb := to_jsonb(old);
    new_row jsonb := to_jsonb(new);
    before  jsonb;
    after   jsonb;
begin
    select jsonb_object_agg(k, old_row -> k), jsonb_object_agg(k, new_row -> k)
      into before, after
      from unnest(tg_argv[2:]) k
     where old_row -> k is distinct from new_row -> k;
    if before is null then
        return null;
    end if;
    insert into public.change_history (table_name, record_table, record_id, operation, key_id, role, request_id,
                                       before, after)
    values (tg_table_name, tg_argv[0], new_row ->> tg_argv[1], 'update',
            nullif(current_setting('marketplace.key_id', true), '')::bigint,
            nullif(current_setting('marketplace.role', true), ''),
            nullif(current_setting('marketplace.request_id', true), ''),
            before, after);
    return null;
end
$$;
revoke all on function record_columns() from public;

create constraint trigger provider_standing_changes after update of status, verified_at on provider
    deferrable initially deferred for each row
    execute function record_columns('provider', 'id', 'status', 'verified_at');
