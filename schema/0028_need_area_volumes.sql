-- A need's expected service users a year per area (its `area_volumes`), when the commissioner knows where they
-- are: coverage then weighs each area by these instead of by its population (METHOD.md, "Coverage"). Codes are among
-- or within the need's areas, none within another, and the volumes add up to the need's annual volume: the API
-- checks that (marketplace/exercises/models.py, `area_volume_problems`), as it checks the need's other rules. A need
-- with no rows here has none (null): every need made before this migration.
create table need_area_volume (
    need_id   bigint not null references need (id) on delete cascade,
    area_code text not null references area (code),
    volume    int not null check (volume between 1 and 10000000),
    primary key (need_id, area_code)
);
