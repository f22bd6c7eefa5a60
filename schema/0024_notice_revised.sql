-- When what a published exercise's public notice shows last changed, by the app's clock: its closing date moved
-- later, the one change publishing allows (null until then). The OCDS release is dated by it, so that a changed
-- notice is a new release; not by the exercise's updated_at, which also moves with the commissioner's own settings
-- (weights, status), which the notice does not show.
alter table exercise add column notice_revised_at timestamptz;
