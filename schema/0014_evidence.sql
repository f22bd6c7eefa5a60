-- Evidence strength and desired outcomes (issue 12, items 4 and 5).
--
-- Desired outcomes: a small vocabulary per pathway (seed_data/desired_outcomes.json), like the other taxonomies.
-- A need may list some; a service's outcomes record may name those it evidences.
--
-- Verification: an admin has seen the evidence behind one of a provider's accreditations (its own or a
-- service's) or one of a service's outcomes records. A verification names what it is of: an accreditation by its
-- code, an outcomes record by a fingerprint of everything the record says, so a record the provider edits (or an
-- accreditation it removes) is no longer the thing verified: the application deletes such verifications in the
-- same transaction as the edit and records that in the profile history. Who verified, when and what was seen
-- stay in the profile history and the audit log (append-only); this table is the current state.

create table desired_outcome (
    code         text primary key check (code ~ '^[A-Z][A-Z0-9_]{1,47}$'),
    pathway_code text not null references pathway (code),
    name         text not null check (length(name) between 1 and 200),
    description  text not null default '',
    sort_order   int not null default 0
);
create index desired_outcome_pathway on desired_outcome (pathway_code, sort_order);

alter table service_outcome add column desired_outcomes text[] not null default '{}';
alter table need add column desired_outcomes text[] not null default '{}';

-- Everything an outcomes record says, as one value: a verification holds the one it saw.
create function outcome_fingerprint(o service_outcome) returns text language sql immutable parallel safe as $$
    select md5(json_build_array(o.outcome, o.measure, o.period, o.value::float8, o.people, o.source, o.reference,
                                o.note, o.desired_outcomes)::text)
$$;

create table evidence_verification (
    id                  bigint generated always as identity primary key,
    provider_id         bigint not null references provider (id) on delete cascade,
    service_id          bigint references service (id) on delete cascade,
    accreditation_code  text references accreditation (code),
    outcome_fingerprint text check (outcome_fingerprint ~ '^[0-9a-f]{32}$'),
    seen                text not null check (length(btrim(seen)) between 1 and 1000),
    verified_at         timestamptz not null,
    verified_by         bigint references api_key (id),
    verified_by_role    text,
    check ((accreditation_code is null) <> (outcome_fingerprint is null)),
    check (outcome_fingerprint is null or service_id is not null)
);
create unique index evidence_verification_subject on evidence_verification
    (provider_id, coalesce(service_id, 0), coalesce(accreditation_code, ''), coalesce(outcome_fingerprint, ''));
create index evidence_verification_service on evidence_verification (service_id);

-- A verification as the profile shows it: what (`accreditations[code]` or `outcomes[n]`), what was seen, when, by whom.
create function verification_doc(v evidence_verification, subject text, outcome int) returns json
language sql stable as $$
    select json_build_object('subject', subject, 'accreditation', v.accreditation_code, 'outcome', outcome,
                             'seen', v.seen, 'verified_at', rfc3339(v.verified_at), 'verified_by', v.verified_by,
                             'verified_by_role', v.verified_by_role)
$$;

-- A service as the API returns it (0007), with each outcomes record's desired outcomes and the verifications of
-- its accreditations and outcomes records.
create or replace function service_doc(s service) returns json language sql stable as $$
    select json_build_object(
        'pathway', s.pathway_code, 'name', s.name, 'description', s.description,
        'cohorts', (select coalesce(json_agg(sc.cohort_code order by co.sort_order, co.code), '[]')
                    from service_cohort sc join cohort co on co.code = sc.cohort_code where sc.service_id = s.id),
        'areas', (select coalesce(json_agg(sa.area_code order by sa.area_code), '[]')
                  from service_area sa where sa.service_id = s.id),
        'status', s.status,
        'eligibility', json_build_object('min_age', s.min_age, 'max_age', s.max_age, 'gender', s.gender),
        'capacity', json_build_object('service_users_per_year', s.capacity_per_year,
                                      'places_available', s.places_available, 'places_as_of', s.places_as_of),
        'delivery_modes', to_json(s.delivery_modes), 'complexity_levels', to_json(s.complexity_levels),
        'cost', case when s.cost_amount is null then null
                     else json_build_object('amount', s.cost_amount::float8, 'unit', s.cost_unit) end,
        'years_delivering', s.years_delivering,
        'outcomes', (select coalesce(json_agg(json_build_object(
                            'outcome', o.outcome, 'measure', o.measure, 'period', o.period, 'value', o.value::float8,
                            'people', o.people, 'source', o.source, 'reference', o.reference, 'note', o.note,
                            'desired_outcomes', to_json(o.desired_outcomes))
                        order by o.position, o.id), '[]')
                     from service_outcome o where o.service_id = s.id),
        'accreditations', (select coalesce(json_agg(a.accreditation_code order by a.accreditation_code), '[]')
                           from service_accreditation a where a.service_id = s.id),
        'id', s.id, 'uuid', s.uuid, 'version', s.version, 'last_confirmed_at', rfc3339(s.last_confirmed_at),
        'created_at', rfc3339(s.created_at), 'updated_at', rfc3339(s.updated_at),
        'verifications', (select coalesce(json_agg(x.doc order by x.kind, x.key), '[]') from (
            select 0 as kind, v.accreditation_code as key,
                   verification_doc(v, 'accreditations[' || v.accreditation_code || ']', null) as doc
            from evidence_verification v
            join service_accreditation a on a.service_id = s.id and a.accreditation_code = v.accreditation_code
            where v.service_id = s.id
            union all
            select 1, lpad(o.n::text, 6, '0'), verification_doc(v, 'outcomes[' || o.n || ']', o.n::int)
            from (select outcome_fingerprint(so) as fingerprint, row_number() over (order by so.position, so.id) - 1 as n
                  from service_outcome so where so.service_id = s.id) o
            join evidence_verification v on v.service_id = s.id and v.outcome_fingerprint = o.fingerprint) x))
$$;

-- The profile document (0007), with the verifications of the organisation's own accreditations.
create or replace function provider_profile_doc(provider_id bigint) returns json language sql stable as $$
    select json_build_object(
        'id', p.id, 'name', p.name, 'legal_form', p.legal_form,
        'sector', (select lf.sector_code from legal_form lf where lf.code = p.legal_form),
        'identifiers', coalesce((select json_agg(i.identifier order by i.identifier)
                                 from provider_identifier i where i.provider_id = p.id), '[]'),
        'description', p.description, 'website', p.website, 'founded_year', p.founded_year,
        'contact', json_build_object('name', p.contact_name, 'email', p.contact_email, 'phone', p.contact_phone),
        'resources', json_build_object(
            'volunteers', p.volunteers,
            'premises', coalesce((select json_agg(json_build_object('area', pm.area_code, 'description', pm.description)
                                                  order by pm.id)
                                  from provider_premises pm where pm.provider_id = p.id), '[]'),
            'match_funding_per_year', p.match_funding_per_year,
            'other_funding_sources', p.other_funding_sources,
            'partner_organisations', p.partner_organisations),
        'finances', json_build_object('annual_income', p.annual_income, 'reserves_months', p.reserves_months::float8,
                                      'accounts_year_end', p.accounts_year_end,
                                      'accounts_scrutiny', p.accounts_scrutiny),
        'accreditations', coalesce((select json_agg(pa.accreditation_code order by pa.accreditation_code)
                                    from provider_accreditation pa where pa.provider_id = p.id), '[]'),
        'social_value', coalesce((select json_agg(sv.commitment_code order by sv.commitment_code)
                                  from provider_social_value sv where sv.provider_id = p.id), '[]'),
        'services', coalesce((select json_agg(service_doc(s) order by s.position, s.id)
                              from service s where s.provider_id = p.id), '[]'),
        'verifications', coalesce((select json_agg(verification_doc(v, 'accreditations[' || v.accreditation_code || ']',
                                                                    null) order by v.accreditation_code)
                                   from evidence_verification v
                                   join provider_accreditation pa
                                     on pa.provider_id = p.id and pa.accreditation_code = v.accreditation_code
                                   where v.provider_id = p.id and v.service_id is null), '[]')
    )
    from provider p where p.id = provider_id
$$;

-- History: verifying evidence and withdrawing a verification are changes like any other.
alter table profile_history drop constraint profile_history_last_action_type_check;
alter table profile_history add constraint profile_history_last_action_type_check
    check (last_action_type in ('create', 'update', 'delete', 'confirm', 'publish', 'archive', 'verify', 'migrate',
                                'verify_evidence', 'withdraw_verification'));

-- Every profile document as these functions now say.
select refresh_provider_search(array(select id from provider));
