-- Weights become percentages of the score (issue 12, item 10). An exercise's `default_weights` and a need's
-- `weight_overrides` were relative weights with the criteria left out keeping a default (a need's on top of its
-- exercise's); they are now the whole table: each criterion's percentage, left out = 0, summing to 100.
-- Each stored object is rewritten as the percentages it came to, so every need is matched as before.
-- An empty object still means "not given". Stored match runs are not touched: they keep the normalised weights
-- they used (the API shows them as percentages).

-- the criteria and their default weights when this migration was written (matching/criteria.py, algorithm 2026.12-1)
create temporary table weight_default (criterion text primary key, weight numeric not null) on commit drop;
insert into weight_default values
    ('pathway_fit', 0.20), ('coverage', 0.15), ('capacity', 0.10), ('financial_viability', 0.10), ('quality', 0.15),
    ('local_priorities', 0.10), ('added_value', 0.05), ('social_value', 0.10), ('sustainability', 0.05);

-- needs first: their old overrides applied on top of their exercise's old weights
update need n
set weight_overrides = (
    select jsonb_object_agg(t.criterion, case when t.total > 0 then round(100 * t.weight / t.total, 12) else 0 end)
    from (
        select d.criterion, m.weight, sum(m.weight) over () as total
        from weight_default d
        cross join lateral (
            select coalesce(
                (n.weight_overrides ->> d.criterion)::numeric, (x.default_weights ->> d.criterion)::numeric, d.weight
            ) as weight
        ) m
    ) t
)
from exercise x
where x.id = n.exercise_id and n.weight_overrides is not null and n.weight_overrides <> '{}'::jsonb;

update exercise x
set default_weights = (
    select jsonb_object_agg(t.criterion, case when t.total > 0 then round(100 * t.weight / t.total, 12) else 0 end)
    from (
        select d.criterion, m.weight, sum(m.weight) over () as total
        from weight_default d
        cross join lateral (
            select coalesce((x.default_weights ->> d.criterion)::numeric, d.weight) as weight
        ) m
    ) t
)
where x.default_weights <> '{}'::jsonb;
