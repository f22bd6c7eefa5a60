-- A stored run's document is the JSON the API encoded itself (msgspec) and is only ever read back whole, as
-- text: it is now kept as text. As json, PostgreSQL checked every ~400 KiB document again on insert, about
-- 0.8 ms of every match request at 200,000 providers. Stored as before: uncompressed (external). The text of
-- the runs already stored is kept as it is; the tables stay append-only.
alter table match_run alter column document type text;
alter table match_run alter column document set storage external;
alter table partnership_run alter column document type text;
alter table partnership_run alter column document set storage external;
