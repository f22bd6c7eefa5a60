-- The questions of a draft exercise can be put in another order (POST /exercises/{id}/questions/{question_id}/move)
-- until it is published. One statement renumbers them; their places must be unique at its end, not after each row
-- it changes (a unique constraint that is not deferrable is checked row by row: two questions could not swap places).
-- Each renumbered question is in the change history (engagement_question_changes, schema/0027).
alter table engagement_question
    drop constraint engagement_question_exercise_id_position_key,
    add constraint engagement_question_exercise_id_position_key unique (exercise_id, position)
        deferrable initially immediate;
