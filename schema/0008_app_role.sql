-- The API's own database role. Migrations run as the owner of the tables (the role that applies them); the API
-- connects as marketplace_app, which is not a superuser and owns nothing, so it cannot disable a trigger, switch
-- the replication role or alter a table. On the append-only tables (history, audit, stored runs) it may only
-- read and add rows: the triggers refuse UPDATE and DELETE for everyone, and the missing privileges make that hold
-- even against a role that could otherwise set them aside.
--
-- On a server the application does not own, a database administrator may create the role first (with a
-- password); the migration then only grants. The embedded server trusts local connections, and uses this role.

do $$
begin
    if not exists (select from pg_roles where rolname = 'marketplace_app') then
        create role marketplace_app login nosuperuser nocreatedb nocreaterole noinherit;
    end if;
end
$$;

grant usage on schema public to marketplace_app;
grant select, insert, update, delete on all tables in schema public to marketplace_app;
grant usage, select on all sequences in schema public to marketplace_app;

-- append-only: read and add, nothing else
revoke update, delete, truncate on profile_history, audit_log, match_run, partnership_run from marketplace_app;
-- migrations are the owner's business
revoke insert, update, delete, truncate on schema_migration from marketplace_app;

-- tables later migrations create (as this same owner) are open to the API too, unless a migration says otherwise;
-- tests check every table's grants, so a new append-only table cannot be forgotten
alter default privileges in schema public grant select, insert, update, delete on tables to marketplace_app;
alter default privileges in schema public grant usage, select on sequences to marketplace_app;
