"""A helper process ranking one part of a large directory for its worker, so one match run uses two cores.

A worker whose directory is split in two parts (`matching.parts`; `Settings.match_split_from`) forks one helper,
which inherits the worker's memory as it is at that moment (the parts included, shared page by page until either
side writes) and ranks part 1 while the worker ranks part 0. The helper does no I/O but its socket to the worker:
the worker sends it the providers changed since the helper last ranked (`Delta`: it withdraws their rows from its
part, `matching.compact.withdraw`, and the worker ranks their new versions), the need and options, then which of
its shortlisted providers were shown, with their profiles; the helper answers with its shortlist as plain data
(`matching.parts.Part`) and then their explanations. Messages are msgpack (msgspec), each after its length; the
worker's calls block, in the thread where it works on its own part meanwhile (`beside`).

The helper serves one ranking at a time (a run finding it busy shortlists the worker's part, then waits its
turn). It ends when its socket closes, when the worker dies (the kernel's parent-death signal), and on SIGTERM; it
ignores SIGINT (a terminal's Ctrl-C goes to the worker, which closes the socket). A helper that fails or dies is
dropped: the worker ranks alone and forks another on a later ranking.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import datetime as dt
import gc
import os
import signal
import socket
import struct
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

import msgspec

import matching

T = TypeVar("T")

_LENGTH = struct.Struct("!I")
_PR_SET_PDEATHSIG = 1


class Delta(msgspec.Struct, frozen=True):
    """One sync's change to the helper's part: every provider changed, whose rows it withdraws (their new versions are
    ranked by the worker, `MatchPools.extra`)."""

    version: int
    changed: list[int]


class Shortlist(msgspec.Struct, frozen=True, tag=True):
    version: int
    """The version of the directory the worker ranks (the deltas bring the helper's part to it)."""
    deltas: list[Delta]
    need: matching.Need
    weights: matching.Weights
    as_of: dt.date
    limit: int
    excluded_limit: int


class Explain(msgspec.Struct, frozen=True, tag=True):
    shown: list[tuple[int, int]]
    """(position in the helper's shortlist, rank in the whole)."""
    details: list[matching.Candidate]


class Failed(msgspec.Struct, frozen=True, tag=True):
    problem: str
    version: int
    """The helper's part's version (changes are applied before the part is shortlisted, whatever comes of it)."""


class Explained(msgspec.Struct, frozen=True, tag=True):
    scored: list[matching.ScoredCandidate]


class Shortlisted(msgspec.Struct, frozen=True, tag=True):
    part: matching.parts.Part
    version: int


_requests = msgspec.msgpack.Decoder(Shortlist | Explain)
_replies = msgspec.msgpack.Decoder(Shortlisted | Explained | Failed)
_encode = msgspec.msgpack.Encoder().encode


class HelperFailed(Exception):
    """The helper answered with a failure, or went away."""


ShortlistOf = Callable[[matching.Need, matching.Weights, matching.CompactPool, dt.date, int, int], matching.Shortlist]
"""How a part is shortlisted (the worker's own options: areas, thesaurus, pathway names)."""


HELPER_TIMEOUT = 120.0
"""Seconds the worker waits for one answer before it gives the helper up (kills it and ranks alone)."""


class Helper:
    """The worker's side of one helper process. Its calls block (they run in the worker's ranking thread, beside
    its own part's work, so neither waits for the other's turn at the interpreter); one ranking at a time uses it
    (`lock`)."""

    def __init__(self, pid: int, sock: socket.socket, version: int) -> None:
        self.pid = pid
        self.sock = sock
        self.version = version
        """The version of the directory the helper's part is at (the worker's `MatchPools.version`)."""
        self.lock = asyncio.Lock()
        self.alive = True

    @classmethod
    def fork(cls, part: matching.CompactPool, version: int, shortlist_of: ShortlistOf) -> Helper:
        """A helper holding `part` as it is now, at `version` (call it where nothing changes the part meanwhile)."""
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        parent = os.getpid()
        with warnings.catch_warnings():  # "use of fork() may lead to deadlocks": the child runs only _serve
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # pragma: no cover - the child process (its work is checked through the worker's results)
            try:
                mine.close()
                _serve(theirs, parent, part, version, shortlist_of)
            finally:
                os._exit(0)
        theirs.close()
        mine.settimeout(HELPER_TIMEOUT)
        return cls(pid, mine, version)

    def send(self, message: Shortlist | Explain) -> None:
        """Send a request (blocking); HelperFailed when the helper has gone."""
        payload = _encode(message)
        try:
            self.sock.sendall(_LENGTH.pack(len(payload)) + payload)
        except OSError as exc:
            self.close()
            raise HelperFailed(f"helper {self.pid} went away: {exc!r}") from exc

    def receive(self) -> Shortlisted | Explained:
        """The answer to the last request (blocking); HelperFailed when it is a failure or the helper has gone."""
        try:
            head = _read(self.sock, _LENGTH.size)
            body = None if head is None else _read(self.sock, _LENGTH.unpack(head)[0])
            if body is None:
                raise ConnectionError("the helper closed its socket")
            reply: Shortlisted | Explained | Failed = _replies.decode(body)
        except (OSError, msgspec.DecodeError) as exc:
            self.close()
            raise HelperFailed(f"helper {self.pid} went away: {exc!r}") from exc
        if isinstance(reply, Failed):
            self.version = reply.version
            raise HelperFailed(f"helper {self.pid}: {reply.problem}")
        if isinstance(reply, Shortlisted):
            self.version = reply.version
        return reply

    def close(self) -> None:
        """Close the socket (the helper then ends; a call blocked on it returns) and reap the process, killing it if
        it lingers."""
        if not self.alive:
            return
        self.alive = False
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        try:
            if os.waitpid(self.pid, os.WNOHANG) == (0, 0):
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
        except (ChildProcessError, ProcessLookupError):
            pass


def beside(helper: Helper, request: Shortlist | Explain, work: Callable[[], T]) -> tuple[T | Exception, Any]:
    """`request` sent to `helper`, `work` done meanwhile (in this thread), then the helper's answer: (what `work`
    returned or raised, the answer or the HelperFailed). The answer is always read, so the next request finds the
    stream in step."""
    try:
        helper.send(request)
    except HelperFailed as exc:
        return _outcome(work), exc
    done = _outcome(work)
    try:
        return done, helper.receive()
    except HelperFailed as exc:
        return done, exc


def _outcome(work: Callable[[], T]) -> T | Exception:
    try:
        return work()
    except Exception as exc:  # handed to the caller, which raises it once the helper has answered
        return exc


def _detach(keep: int, parent: int) -> None:  # pragma: no cover - runs in the child
    """The child keeps only its socket (and standard streams) of the worker's files, dies with the worker, and
    leaves Ctrl-C to it."""
    os.closerange(3, keep)
    os.closerange(keep + 1, 1 << 20)
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the worker died before the signal was asked for
        os._exit(0)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    gc.freeze()  # the inherited objects: never scanned by the collector (their pages stay shared)


def _serve(
    sock: socket.socket, parent: int, part: matching.CompactPool, version: int, shortlist_of: ShortlistOf
) -> None:  # pragma: no cover - runs in the child
    _detach(sock.fileno(), parent)
    short: matching.Shortlist | None = None
    while True:
        head = _read(sock, _LENGTH.size)
        if head is None:
            return
        body = _read(sock, _LENGTH.unpack(head)[0])
        if body is None:
            return
        reply: Any
        try:
            request = _requests.decode(body)
            if isinstance(request, Shortlist):
                short = None
                for d in request.deltas:
                    if d.version > version:
                        part = matching.compact.withdraw(part, d.changed)  # its columns still shared with the worker
                        version = d.version
                version = max(version, request.version)
                short = shortlist_of(
                    request.need, request.weights, part, request.as_of, request.limit, request.excluded_limit
                )
                reply = Shortlisted(short.part(), version)
            elif short is None:
                reply = Failed("nothing shortlisted to explain", version)
            else:
                by_id = {c.provider_id: c for c in request.details}
                reply = Explained(list(short.explaining().explain_at(by_id, request.shown)))
        except Exception as exc:  # told to the worker, which ranks the part itself
            reply = Failed(repr(exc), version)
        payload = _encode(reply)
        sock.sendall(_LENGTH.pack(len(payload)) + payload)


def _read(sock: socket.socket, n: int) -> bytes | None:  # pragma: no cover - runs in the child
    chunks, left = [], n
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
