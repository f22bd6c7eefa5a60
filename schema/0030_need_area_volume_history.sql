-- A need's area volumes (schema/0028) are a part of the need, recorded in the change history (schema/0027) as its
-- areas, cohorts and accreditations are.
create constraint trigger need_area_volume_changes after insert or update or delete on need_area_volume
    deferrable initially deferred for each row execute function record_change('need', 'need_id');
