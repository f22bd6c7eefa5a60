-- Open Referral (HSDS 3.0 / ORUK) publishes every organisation under a stable UUID, as services already have
-- (0007). Existing providers get one each here (the volatile default is evaluated per row); new ones by default.
-- Taxonomy terms need no column: their UUIDs are derived from their codes (marketplace/standards/service.py).

alter table provider add column uuid uuid not null default gen_random_uuid();
alter table provider add constraint provider_uuid_key unique (uuid);
