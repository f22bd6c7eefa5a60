"""Imports: a file of organisations and services read as a dry run (stored, nothing else written), then the
admin's commit of the rows accepted, all or nothing.

A dry run reports every organisation of the file as `new`, a `duplicate` of a provider (score and reasons),
`ambiguous` (the candidates) or `bad` (every problem: row, column, what). A commit makes each accepted new or
ambiguous row a **pending** profile (unpublished until an admin publishes it; unconfirmed until its provider
confirms it); an accepted duplicate changes nothing and is reported `not_applied` (the marketplace has no
proposed-change mechanism yet: nothing is ever merged into an existing profile). A bad row cannot be accepted. The
directory is judged again at commit time: a row that has become a duplicate since the dry run stops the commit
(409: dry-run again). Each profile made is in its history and the audit log, and the commit in the audit log."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable

import msgspec

from marketplace import audit
from marketplace.context import Context
from marketplace.db import Connection
from marketplace.errors import Conflict, FieldProblem, NotFound, Unprocessable
from marketplace.imports import queries
from marketplace.imports.dedupe import Directory, Known
from marketplace.imports.models import (
    CommitRequest,
    CommittedRow,
    ImportCommit,
    ImportProblem,
    ImportRow,
    ImportRun,
    ImportSummary,
)
from marketplace.imports.parse import FileProblem, Incoming, read
from marketplace.providers import service as providers
from marketplace.providers.models import NewProvider
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


def _judge(directory: Directory, incoming: list[Incoming], progress: Progress) -> list[ImportRow]:
    rows: list[ImportRow] = []
    seen_ids: dict[str, int] = {}
    for n, item in enumerate(incoming, start=1):
        if n % 100 == 0:
            progress(f"checked {n} of {len(incoming)} organisations")
        base = {"row": item.row, "name": item.name, "rows": item.rows}
        if item.profile is None:
            rows.append(ImportRow(verdict="bad", problems=item.problems, **base))  # type: ignore[arg-type]
            continue
        p = item.profile
        repeated = next((seen_ids[i] for i in p.identifiers if i in seen_ids), None)
        if repeated is not None:
            problem = ImportProblem(row=item.row, column="identifiers", problem=f"the same org-id as row {repeated}")
            rows.append(ImportRow(verdict="bad", services=len(p.services), problems=[problem], **base))  # type: ignore[arg-type]
            continue
        seen_ids.update(dict.fromkeys(p.identifiers, item.row))
        verdict, candidates = directory.judge(p.name, p.identifiers, p.website, _areas(p))
        top = candidates[0] if verdict == "duplicate" else None
        rows.append(
            ImportRow(
                verdict=verdict,
                services=len(p.services),
                provider_id=top.provider_id if top else None,
                score=top.score if top else None,
                reasons=top.reasons if top else [],
                candidates=candidates,
                **base,  # type: ignore[arg-type]
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
        fmt, incoming = await asyncio.to_thread(read, data, ctx.taxonomy, year=ctx.clock.now().year)
    except FileProblem as e:
        raise _file_problem(e) from None
    if not incoming:
        raise Unprocessable.field("file", "holds no organisation")
    progress(f"read {len(incoming)} organisations ({fmt}); checking them against the directory")
    directory = await _directory(conn)
    rows = await asyncio.to_thread(_judge, directory, incoming, progress)  # off the event loop: CPU-bound
    summary = _summary(rows)
    profiles = {str(item.row): msgspec.to_builtins(item.profile) for item in incoming if item.profile is not None}
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
            profile = msgspec.convert(profiles[str(n)], NewProvider)
            verdict, candidates = directory.judge(profile.name, profile.identifiers, profile.website, _areas(profile))
            if verdict == "duplicate" or (row.verdict == "new" and verdict != "new"):
                raise Conflict(
                    f"row {n} ({row.name}) is now a possible duplicate of provider {candidates[0].provider_id}: the "
                    "directory changed since the dry run; run the import again",
                    problems=[FieldProblem(field=f"row {n}", problem="; ".join(candidates[0].reasons))],
                )
            provider_id = await providers.create_pending(
                ctx, conn, actor, profile, note=f"created pending by import {import_id}, row {n}"
            )
            directory.add(
                Known(
                    provider_id=provider_id,
                    name=profile.name,
                    status="pending",
                    website=profile.website,
                    identifiers=tuple(profile.identifiers),
                    areas=frozenset(_areas(profile)),
                )
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
            status=200,
            detail=f"import {import_id} committed: {created} pending profiles created, "
            f"{len(results) - created} rows not applied",
        )
    progress(f"import {import_id} committed: {created} pending profiles created, {len(results) - created} not applied")
    return _commit_of(dict(made))
