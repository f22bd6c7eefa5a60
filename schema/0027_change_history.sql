-- The change history: every insert, update and delete of a row of every table the API's role may write that keeps
-- no history of its own, with the values before and after, who made it (the acting API key, when through the app)
-- and when. Filled by row triggers, so a change made around the app (psql as the API's role) is recorded too,
-- with no key. Append-only like the audit log: the API's role may only read it (the trigger function writes it
-- as the owner), and the triggers below refuse UPDATE, DELETE and TRUNCATE for everyone.
--
-- Also: a read-only `auditor` role for API keys.

create table change_history (
    id           bigint generated always as identity primary key,
    at           timestamptz not null default now(),  -- the database's clock, as the audit log's and profile history's
    table_name   text not null,                        -- the table whose row changed
    record_table text not null,                        -- the record it is part of: its own table, or its parent's
    record_id    text not null,                        -- that record's id: an id's digits, or a taxonomy code
    operation    text not null check (operation in ('insert', 'update', 'delete')),
    key_id       bigint references api_key (id),       -- the acting API key, as the app said; null: no key (the
    role         text,                                 -- command line, anonymous) or not through the app (role null)
    request_id   text,                                 -- the audit log's request id of the change
    before       jsonb,                                -- insert: null; update: the changed columns; delete: the row
    after        jsonb,                                -- insert: the row; update: the changed columns; delete: null
    check ((operation = 'insert') = (before is null) and (operation = 'delete') = (after is null))
);
create index change_history_record on change_history (record_table, record_id, id desc);
create index change_history_key on change_history (key_id, id desc);
create index change_history_at on change_history (at);

create trigger change_history_append_only before update or delete on change_history
    for each row execute function reject_change();
create trigger change_history_no_truncate before truncate on change_history
    for each statement execute function reject_change();

-- The API's role reads the history; only the trigger function below (running as its owner) adds to it.
revoke all on change_history from marketplace_app;
grant select on change_history to marketplace_app;
do $$
begin
    execute format('revoke all on sequence %s from marketplace_app',
                   pg_get_serial_sequence('public.change_history', 'id'));
end
$$;

-- One change of one row. Arguments: the record's table, the column holding the record's id, then the columns left
-- out (secrets, and bookkeeping that moves on every use). For an update, only the columns whose values changed; an
-- update changing none of the columns kept records nothing (a taxonomy upserted unchanged).
--
-- Who acted comes from the transaction's settings marketplace.key_id, marketplace.role and marketplace.request_id,
-- which the app sets where it writes the audit row of a change (marketplace/audit.py, `record`), in the same
-- transaction. Audit rows are written last in a transaction, so the triggers are deferred to its commit: every
-- change of the transaction is then named by that audit row's caller. Not through the app, the settings are unset:
-- no key, no role. Whoever can write a table can set them (as the app does), but not stop the row being recorded:
-- the API's role owns nothing, so it can neither drop nor disable a trigger, nor set session_replication_role.
--
-- SECURITY DEFINER: it inserts as its owner (the migrations' role), so the API's role needs no INSERT on the
-- history; search_path fixed (the catalog, then the session's temporary schema last, so nothing a caller creates
-- is found first) and the time zone too, so a time reads the same whoever wrote it.
create function record_change() returns trigger
    language plpgsql security definer
    set search_path = pg_catalog, pg_temp
    set timezone = 'UTC'
as $$
declare
    left_out text[] := tg_argv[2:];
    old_row  jsonb;
    new_row  jsonb;
    before   jsonb;
    after    jsonb;
begin
    if tg_op <> 'INSERT' then
        old_row := to_jsonb(old);
    end if;
    if tg_op <> 'DELETE' then
        new_row := to_jsonb(new);
    end if;
    if tg_op = 'UPDATE' then
        select jsonb_object_agg(o.key, o.value), jsonb_object_agg(o.key, new_row -> o.key)
          into before, after
          from jsonb_each(old_row - left_out) o
         where o.value is distinct from new_row -> o.key;
        if before is null then
            return null;
        end if;
    else
        before := old_row - left_out;
        after := new_row - left_out;
    end if;
    insert into public.change_history (table_name, record_table, record_id, operation, key_id, role, request_id,
                                       before, after)
    values (tg_table_name, tg_argv[0], coalesce(new_row, old_row) ->> tg_argv[1], lower(tg_op),
            nullif(current_setting('marketplace.key_id', true), '')::bigint,
            nullif(current_setting('marketplace.role', true), ''),
            nullif(current_setting('marketplace.request_id', true), ''),
            before, after);
    return null;
end
$$;
revoke all on function record_change() from public;

-- The recorded tables: each is a record of its own (its id or code), or a part of its parent record (a need's
-- areas, cohorts, accreditations and shortlist; an exercise's publication for market engagement).
create constraint trigger exercise_changes after insert or update or delete on exercise
    deferrable initially deferred for each row execute function record_change('exercise', 'id');
create constraint trigger engagement_changes after insert or update or delete on engagement
    deferrable initially deferred for each row execute function record_change('exercise', 'exercise_id');
create constraint trigger need_changes after insert or update or delete on need
    deferrable initially deferred for each row execute function record_change('need', 'id');
create constraint trigger need_area_changes after insert or update or delete on need_area
    deferrable initially deferred for each row execute function record_change('need', 'need_id');
create constraint trigger need_cohort_changes after insert or update or delete on need_cohort
    deferrable initially deferred for each row execute function record_change('need', 'need_id');
create constraint trigger need_accreditation_changes after insert or update or delete on need_accreditation
    deferrable initially deferred for each row execute function record_change('need', 'need_id');
create constraint trigger console_shortlist_changes after insert or update or delete on console_shortlist
    deferrable initially deferred for each row execute function record_change('need', 'need_id');
create constraint trigger engagement_question_changes after insert or update or delete on engagement_question
    deferrable initially deferred for each row execute function record_change('engagement_question', 'id');
create constraint trigger engagement_clarification_changes after insert or update or delete
    on engagement_clarification
    deferrable initially deferred for each row execute function record_change('engagement_clarification', 'id');
create constraint trigger appraisal_changes after insert or update or delete on appraisal
    deferrable initially deferred for each row execute function record_change('appraisal', 'id');
-- an API key: never its hash (what a key is checked against), nor when it was last used (moves with its use)
create constraint trigger api_key_changes after insert or update or delete on api_key
    deferrable initially deferred for each row
    execute function record_change('api_key', 'id', 'key_hash', 'last_used_at');
-- the taxonomies (the seed upserts them: unchanged, nothing is recorded)
create constraint trigger area_changes after insert or update or delete on area
    deferrable initially deferred for each row execute function record_change('area', 'code');
create constraint trigger pathway_changes after insert or update or delete on pathway
    deferrable initially deferred for each row execute function record_change('pathway', 'code');
create constraint trigger cohort_changes after insert or update or delete on cohort
    deferrable initially deferred for each row execute function record_change('cohort', 'code');
create constraint trigger sector_changes after insert or update or delete on sector
    deferrable initially deferred for each row execute function record_change('sector', 'code');
create constraint trigger legal_form_changes after insert or update or delete on legal_form
    deferrable initially deferred for each row execute function record_change('legal_form', 'code');
create constraint trigger accreditation_changes after insert or update or delete on accreditation
    deferrable initially deferred for each row execute function record_change('accreditation', 'code');
create constraint trigger social_value_commitment_changes after insert or update or delete on social_value_commitment
    deferrable initially deferred for each row execute function record_change('social_value_commitment', 'code');
create constraint trigger desired_outcome_changes after insert or update or delete on desired_outcome
    deferrable initially deferred for each row execute function record_change('desired_outcome', 'code');

-- Not recorded here, though the API's role may write them (marketplace/db.py NOT_RECORDED says the same, and
-- tests/test_app_role.py checks that every table the role may write is recorded, append-only or listed there):
--   provider, provider_identifier, provider_premises, provider_accreditation, provider_social_value, service,
--   service_area, service_cohort, service_accreditation, service_outcome, evidence_verification: a profile's own
--   history (profile_history, schema/0003) records every change to them field by field, with who and when; and
--   the parts are rewritten whole on every write, and bulk-loaded by COPY, so row triggers would only add noise.
--   area_closure: derived from area (refresh_area_closure() rebuilds it), whose changes are recorded.
--   console_session: the console's sign-ins (a secret's hash and a CSRF token), touched on every page; signing in
--   and out are in the audit log.
--   registration_attempt: the per-client registration limit's counter; each registration is in the audit log.

-- Auditors read what admins and commissioners read (the audit log and this history too) and change nothing.
alter table api_key drop constraint api_key_role_check;
alter table api_key add constraint api_key_role_check
    check (role in ('admin', 'commissioner', 'provider', 'auditor'));
