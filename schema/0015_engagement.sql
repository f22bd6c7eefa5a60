-- Market engagement (issue 14): a UK2-style preliminary market engagement notice, its questions, providers'
-- responses (every revision kept, append-only) and clarifications (asked privately, answered to everyone).

-- An exercise published for engagement: when, by whom, and how much of each need's budget the public notice shows.
create table engagement (
    exercise_id       bigint primary key references exercise (id) on delete restrict,
    budget_visibility text not null check (budget_visibility in ('shown', 'range', 'hidden')),
    published_at      timestamptz not null,
    published_by      bigint references api_key (id)
);

-- Questions set per exercise; fixed once it is published (answers are checked against them).
create table engagement_question (
    id          bigint generated always as identity primary key,
    exercise_id bigint not null references exercise (id) on delete restrict,
    position    int not null,
    kind        text not null check (kind in ('text', 'yes_no', 'number', 'single_choice', 'multiple_choice')),
    text        text not null check (length(btrim(text)) between 1 and 1000),
    required    boolean not null default false,
    word_limit  int check (word_limit is null or word_limit between 1 and 5000),
    choices     jsonb not null default '[]' check (jsonb_typeof(choices) = 'array'),
    created_at  timestamptz not null default now(),
    unique (exercise_id, position)
);

-- One response per provider per exercise, as a series of revisions: the newest is the response. A revision holds
-- the response as sent and the provider's profile with its services as they were (what the commissioner relied on).
create table engagement_response (
    id          bigint generated always as identity primary key,
    exercise_id bigint not null references exercise (id) on delete restrict,
    provider_id bigint not null references provider (id) on delete restrict,
    revision    int not null check (revision >= 1),
    status      text not null check (status in ('submitted', 'withdrawn')),
    body        jsonb not null,
    snapshot    jsonb not null,
    created_at  timestamptz not null,
    created_by  bigint references api_key (id),
    unique (exercise_id, provider_id, revision)
);
create index engagement_response_provider on engagement_response (provider_id, exercise_id);

create trigger engagement_response_immutable before update or delete on engagement_response
    for each row execute function reject_change();
create trigger engagement_response_no_truncate before truncate on engagement_response
    for each statement execute function reject_change();

grant select, insert on engagement_response to marketplace_app;
revoke update, delete, truncate on engagement_response from marketplace_app;

-- A provider's clarification question: private to it and the commissioners until answered; the answer is
-- published to everyone with the question (anonymised: the log never names who asked).
create table engagement_clarification (
    id          bigint generated always as identity primary key,
    exercise_id bigint not null references exercise (id) on delete restrict,
    provider_id bigint not null references provider (id) on delete restrict,
    question    text not null check (length(btrim(question)) between 1 and 4000),
    asked_at    timestamptz not null,
    asked_by    bigint references api_key (id),
    published_question text check (published_question is null or length(btrim(published_question)) between 1 and 4000),
    answer      text check (answer is null or length(btrim(answer)) between 1 and 4000),
    answered_at timestamptz,
    answered_by bigint references api_key (id),
    check ((answer is null) = (answered_at is null))
);
create index engagement_clarification_exercise on engagement_clarification (exercise_id, id);
