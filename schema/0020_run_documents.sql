-- Stored match and partnership runs keep the exact JSON text the API returned (json, not jsonb) and store it
-- uncompressed: a run of 50 providers is about 400 KiB, and parsing it into jsonb and compressing it took
-- about 10 ms of every match request at 200,000 providers (3-4 ms now); reading one back for a report is
-- about 4 times faster. Nothing queries inside a run's document: it is read whole, as text. The runs
-- already stored are converted as they are (their text reads back as before); the tables stay append-only.
alter table match_run alter column document type json using document::json;
alter table match_run alter column document set storage external;
alter table partnership_run alter column document type json using document::json;
alter table partnership_run alter column document set storage external;
