-- A number question's settings: the least and the most an answer may be, and whether it must be whole (staff,
-- places, years). Questions asked before have none: any number between -1e12 and 1e12, as before.
alter table engagement_question
    add column minimum      double precision,
    add column maximum      double precision,
    add column whole_number boolean not null default false,
    add constraint engagement_question_number_settings check (
        (kind = 'number' or (minimum is null and maximum is null and not whole_number))
        and (minimum is null or maximum is null or minimum <= maximum)
    );
