-- A question of a draft exercise can be changed in place (PUT /exercises/{id}/questions/{question_id}) until the
-- exercise is published: its version, sent as its ETag and checked against If-Match, so that two commissioners
-- changing the same question never silently overwrite each other. Each change is in the change history
-- (engagement_question_changes, schema/0027).
alter table engagement_question add column version int not null default 1 check (version >= 1);
