-- Change tracking for the per-process views of the directory (the search index, matching's candidate pools).
--
-- Every insert or update of a provider row records the writing transaction's id in changed_xid. A process
-- that loaded the directory under snapshot S finds exactly the providers written since by asking for rows
-- whose changed_xid is not visible in S (pg_visible_in_snapshot); the index on changed_xid keeps that to
-- the few rows written since S's xmin. Writers never wait on each other (no shared counter row), and a
-- transaction that commits late is still found, because visibility, not commit order, decides.
--
-- Every write path to a provider's content ends in refresh_provider_search(), an UPDATE of the row, so
-- child-table changes (expertise, coverage, ...) are caught too.

alter table provider add column changed_xid xid8 not null default '0';

create function provider_touch() returns trigger language plpgsql as $$
begin
    new.changed_xid := pg_current_xact_id();
    return new;
end
$$;

create trigger provider_touch before insert or update on provider
    for each row execute function provider_touch();

update provider set changed_xid = pg_current_xact_id();
create index provider_changed_xid on provider (changed_xid);
