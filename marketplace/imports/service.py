"""Imports: a file of organisations and services read as a dry run (stored, nothing else written), then the
admin's commit of the rows accepted, all or nothing.

A dry run reports every organisation of the file as `new`, a `duplicate` of a provider (score and reasons),
`ambiguous` (the candidates) or `bad` (every problem: row, column, what). A commit makes each accepted new or
ambiguous row a **pending** profile (unpublished until an admin publishes it; unconfirmed until its provider
confirms it, unless a flat sheet says when it last did: that day is kept, and said in the audit log); an accepted
duplicate changes nothing and is reported `not_applied` (the marketplace has no proposed-change mechanism yet:
nothing is ever merged into an existing profile). A bad row cannot be accepted.

Each row is judged against the directory and against the file's earlier rows that a commit could create (new or
ambiguous): a row like an earlier one is `ambiguous`, that row its candidate (`row`), and the admin decides:
accepting both creates both, accepting one creates that one. The file does not change between the dry run and the
commit, so neither does what its rows are to each other: the commit takes the dry run's word for that, and judges
each accepted row against the directory again, which may have changed: a row that is now a duplicate, or that has
a candidate the dry run did not show, stops the commit (409: dry-run again). So the dry run predicts the commit.
Each profile made is in its history and the audit log, and the commit in the audit log."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from collections.abc import Callable

import msgspec

from marketplace import audit
from marketplace.clock import LOCAL_ZONE
from marketplace.context import Context
from marketplace.db import Connection
from marketplace.errors import Conflict, FieldProblem, NotFound, Unprocessable
from marketplace.imports import queries
from marketplace.imports.dedupe import Directory, Known
from marketplace.imports.models import (
    Candidate,
    CommitRequest,
    CommittedRow,
    ImportCommit,
    ImportProblem,
    ImportRow,
    ImportRun,
    ImportSummary,
    StoredProfile,
)
from marketplace.imports.parse import FileProblem, Incoming, read
from marketplace.providers import service as providers
from marketplace.providers.models import NewProvider
from marketplace.taxonomy.models import Taxonomy
from marketplace.types import Actor

MAX_UPLOAD = 10 * 1024 * 1024
"""Bytes an uploaded file may have (413 beyond)."""
Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


def _where(p: ImportProblem) -> str:
    return f"{p.file + ' ' if p.file else ''}row {p.row}, column {p.column}"


def _file_problem(e: FileProblem) -> Unprocessable:
    """A file that arrived whole but cannot be read as an import (422: the request itself was well formed)."""
    problems = [FieldProblem(field=_where(p), problem=p.problem) for p in e.problems]
    return Unprocessable(str(e), problems=problems or [FieldProblem(field="file", problem=str(e))])


async def _directory(conn: Connection) -> Directory:
    return Directory(
        [
            Known(
                provider_id=r["id"],
                name=r["name"],
                status=r["status"],
                website=r["website"],
                identifiers=tuple(r["identifiers"]),
                areas=frozenset(r["area_match_codes"]),
            )
            for r in await queries.directory(conn)
        ]
    )


def _areas(profile: NewProvider) -> set[str]:
    return {a for s in profile.services for a in s.areas}


def _reach(tax: Taxonomy, profile: NewProvider, known: dict[str, tuple[str, ...]]) -> frozenset[str]:
    """Its active services' areas with every area above and below them: what the directory holds of a provider
    (`area_match_codes`), for a row of the file that later rows are compared with. `known`: each area's, as found."""
    tree = tax.matching_areas
    given = {a for s in profile.services if s.status == "active" for a in s.areas if a in tree}
    for a in given - known.keys():
        known[a] = (a, *tree.ancestors(a), *tree.descendants(a))
    return frozenset(x for a in given for x in known[a])


def _alike(row: int, found: list[Candidate]) -> list[str]:
    """What the row's ambiguity with earlier rows of the file means, naming both rows."""
    return [
        f"row {row} may be the same organisation as row {c.row} ({c.name}): {'; '.join(c.reasons)}. Accept both "
        "rows to create both (they are different organisations), or only the one to keep"
        for c in found
    ]


def _judge(directory: Directory, incoming: list[Incoming], tax: Taxonomy, progress: Progress) -> list[ImportRow]:
    """Each row against the directory, then (unless it is a duplicate: never created) against the earlier rows of the
    file a commit could create. A separate directory of those rows: the directory's own verdicts are the commit's,
    whatever the file holds."""
    rows: list[ImportRow] = []
    earlier = Directory([])
    reach: dict[str, tuple[str, ...]] = {}
    seen_ids: dict[str, int] = {}
    for n, item in enumerate(incoming, start=1):
        if n % 100 == 0:
            progress(f"checked {n} of {len(incoming)} organisations")
        if item.profile is None:
            rows.append(ImportRow(row=item.row, verdict="bad", name=item.name, rows=item.rows, problems=item.problems))
            continue
        p = item.profile
        repeated = next((seen_ids[i] for i in p.identifiers if i in seen_ids), None)
        if repeated is not None:
            problem = ImportProblem(row=item.row, column="identifiers", problem=f"the same org-id as row {repeated}")
            services = len(p.services)
            rows.append(
                ImportRow(
                    row=item.row, verdict="bad", name=item.name, services=services, rows=item.rows, problems=[problem]
                )
            )
            continue
        seen_ids.update(dict.fromkeys(p.identifiers, item.row))
        verdict, candidates = directory.judge(p.name, p.identifiers, p.website, _areas(p))
        reasons: list[str] = []
        if verdict != "duplicate":
            _, alike = earlier.judge(p.name, p.identifiers, p.website, _areas(p))
            if alike:
                verdict, candidates, reasons = "ambiguous", candidates + alike, _alike(item.row, alike)
            earlier.add(
                Known(
                    provider_id=None,
                    name=p.name,
                    status=verdict,
                    website=p.website,
                    identifiers=tuple(p.identifiers),
                    areas=_reach(tax, p, reach),
                    row=item.row,
                )
            )
        top = candidates[0] if verdict == "duplicate" else None
        rows.append(
            ImportRow(
                row=item.row,
                verdict=verdict,
                name=item.name,
                services=len(p.services),
                rows=item.rows,
                provider_id=top.provider_id if top else None,
                score=top.score if top else None,
                reasons=top.reasons if top else reasons,
                candidates=candidates,
            )
        )
    return rows


def _summary(rows: list[ImportRow]) -> ImportSummary:
    counts = Counter(r.verdict for r in rows)
    return ImportSummary(
        rows=len(rows),
        new=counts["new"],
        duplicate=counts["duplicate"],
        ambiguous=counts["ambiguous"],
        bad=counts["bad"],
        services=sum(r.services for r in rows),
    )


async def dry_run(
    ctx: Context, conn: Connection, actor: Actor, data: bytes, filename: str, progress: Progress = _quiet
) -> ImportRun:
    """Read the file, judge every organisation against the directory, store the report (and the profiles a commit
    would make); nothing else is written. A file that cannot be read at all is a 400 naming where."""
    filename = filename[:300]
    if len(data) > MAX_UPLOAD:
        raise Unprocessable.field("file", f"larger than {MAX_UPLOAD // 2**20} MB: split it")
    progress(f"reading {filename or 'the file'} ({len(data):,} bytes)")
    try:
        fmt, incoming = await asyncio.to_thread(read, data, ctx.taxonomy, today=ctx.clock.today())
    except FileProblem as e:
        raise _file_problem(e) from None
    if not incoming:
        raise Unprocessable.field("file", "holds no organisation")
    progress(f"read {len(incoming)} organisations ({fmt}); checking them against the directory")
    directory = await _directory(conn)
    rows = await asyncio.to_thread(_judge, directory, incoming, ctx.taxonomy, progress)  # off the loop: CPU-bound
    summary = _summary(rows)
    profiles = {
        str(item.row): msgspec.to_builtins(
            StoredProfile(item.profile, item.last_confirmed, item.services_last_confirmed)
        )
        for item in incoming
        if item.profile is not None
    }
    async with conn.transaction():
        stored = await queries.insert_run(
            conn,
            created_by=actor.caller.key_id,
            filename=filename,
            fmt=fmt,
            summary=msgspec.to_builtins(summary),
            rows=msgspec.to_builtins(rows),
            profiles=profiles,
        )
        await audit.record(
            conn,
            actor,
            status=201,
            detail=f"import {stored['id']} dry run: {summary.rows} rows ({summary.new} new, {summary.duplicate} "
            f"duplicate, {summary.ambiguous} ambiguous, {summary.bad} bad)",
        )
    progress(
        f"import {stored['id']}: {summary.new} new, {summary.duplicate} duplicate, {summary.ambiguous} ambiguous, "
        f"{summary.bad} bad"
    )
    return ImportRun(
        id=stored["id"], created_at=stored["created_at"], filename=filename, format=fmt, summary=summary, rows=rows
    )


def _stored(value: object) -> StoredProfile:
    """A row's stored profile (a dry run stored before the dates were kept holds the profile alone)."""
    if isinstance(value, dict) and "profile" in value:
        return msgspec.convert(value, StoredProfile)
    return StoredProfile(msgspec.convert(value, NewProvider))


def _start_of(day: dt.date | None) -> dt.datetime | None:
    """A last-confirmed date as the instant recorded: the start of that day in England, which reads back as that
    day, and is never later than a confirmation made on it."""
    return None if day is None else dt.datetime.combine(day, dt.time(0), tzinfo=LOCAL_ZONE).astimezone(dt.UTC)


def _commit_of(row: object) -> ImportCommit:
    return msgspec.convert(row, ImportCommit)


async def get_run(conn: Connection, import_id: int) -> ImportRun:
    stored = await queries.run(conn, import_id)
    if stored is None:
        raise NotFound(f"import {import_id} not found")
    committed = await queries.commit_of(conn, import_id)
    return ImportRun(
        id=stored["id"],
        created_at=stored["created_at"],
        filename=stored["filename"],
        format=stored["format"],
        summary=msgspec.convert(stored["summary"], ImportSummary),
        rows=msgspec.convert(stored["rows"], list[ImportRow]),
        commit=_commit_of(dict(committed)) if committed is not None else None,
    )


COMMITTED = 200
"""What a commit answers (POST /imports/{id}/commit), so the status of each of its audit rows."""


async def commit(
    ctx: Context, conn: Connection, actor: Actor, import_id: int, request: CommitRequest, progress: Progress = _quiet
) -> ImportCommit:
    """Apply the accepted rows of a dry run, all or nothing (see the module's docstring)."""
    async with conn.transaction():
        await queries.lock_commits(conn)
        stored = await queries.run(conn, import_id)
        if stored is None:
            raise NotFound(f"import {import_id} not found")
        if await queries.commit_of(conn, import_id) is not None:
            raise Conflict(f"import {import_id} is already committed: GET /imports/{import_id} shows what it did")
        rows = {r.row: r for r in msgspec.convert(stored["rows"], list[ImportRow])}
        if request.accept == "new":
            accepted = [n for n, r in rows.items() if r.verdict == "new"]
            if not accepted:  # committing nothing would close the import: its ambiguous rows could not be taken after
                raise Unprocessable.from_problems(
                    [
                        FieldProblem(
                            field="accept",
                            problem="the dry run found no new row: nothing to commit (name an ambiguous row's number "
                            "to create it; a duplicate is never applied)",
                        )
                    ]
                )
        else:
            accepted = list(dict.fromkeys(request.accept))
        problems = [
            FieldProblem(field=f"accept[{i}]", problem=f"row {n} is not a row of import {import_id}")
            for i, n in enumerate(accepted)
            if n not in rows
        ] + [
            FieldProblem(field=f"accept[{i}]", problem=f"row {n} is bad and cannot be accepted")
            for i, n in enumerate(accepted)
            if n in rows and rows[n].verdict == "bad"
        ]
        if problems:
            raise Unprocessable.from_problems(problems)
        directory = await _directory(conn)
        profiles = stored["profiles"]
        results: list[CommittedRow] = []
        for done, n in enumerate(accepted, start=1):
            row = rows[n]
            if row.verdict == "duplicate":
                results.append(
                    CommittedRow(
                        row=n,
                        outcome="not_applied",
                        provider_id=row.provider_id,
                        reason=f"a duplicate of provider {row.provider_id}: nothing is merged into an existing "
                        "profile (its provider keeps it current)",
                    )
                )
                continue
            stored_profile = _stored(profiles[str(n)])
            profile = stored_profile.profile
            # the directory only (as the dry run judged it, before the file's rows): what the rows are to each other
            # the dry run has said, and the admin has decided
            verdict, candidates = directory.judge(profile.name, profile.identifiers, profile.website, _areas(profile))
            shown = {c.provider_id for c in row.candidates if c.provider_id is not None}
            unseen = [c for c in candidates if c.provider_id not in shown]
            if verdict == "duplicate" or unseen:
                top = (unseen or candidates)[0]
                raise Conflict(
                    f"row {n} ({row.name}) is now a possible duplicate of provider {top.provider_id}: the directory "
                    "changed since the dry run; run the import again",
                    problems=[FieldProblem(field=f"row {n}", problem="; ".join(top.reasons))],
                )
            note = f"created pending by import {import_id}, row {n}"
            if stored_profile.last_confirmed is not None:  # whose word the date is, in the audit log
                note += f", last confirmed {stored_profile.last_confirmed} as the file says"
            provider_id = await providers.create_pending(
                ctx,
                conn,
                actor,
                profile,
                note,
                status=COMMITTED,
                last_confirmed_at=_start_of(stored_profile.last_confirmed),
                services_last_confirmed_at=[_start_of(d) for d in stored_profile.services_last_confirmed],
            )
            results.append(CommittedRow(row=n, outcome="created", provider_id=provider_id))
            if done % 100 == 0:
                progress(f"applied {done} of {len(accepted)} rows")
        made = await queries.insert_commit(
            conn,
            import_id=import_id,
            created_by=actor.caller.key_id,
            accepted=accepted,
            results=msgspec.to_builtins(results),
        )
        created = sum(1 for r in results if r.outcome == "created")
        await audit.record(
            conn,
            actor,
            status=COMMITTED,
            detail=f"import {import_id} committed: {created} pending profiles created, "
            f"{len(results) - created} rows not applied",
        )
    progress(f"import {import_id} committed: {created} pending profiles created, {len(results) - created} not applied")
    return _commit_of(dict(made))
