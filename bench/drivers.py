"""Load generators for bench/run.py, on loopback only.

* wrk (when installed): a generated Lua script rotates through the scenario's request paths and prints its
  summary and latency percentiles as one JSON line.
* an asyncio client: raw HTTP/1.1 over asyncio streams with keep-alive (no third-party client: its own
  overhead would be measured too). Used for every scenario when wrk is missing, and always for the writing
  scenarios (match runs are capped in number; a PATCH needs the ETag of the previous response).

Both return a Phase: requests, errors, elapsed seconds and latency percentiles in milliseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Phase:
    connections: int
    requests: int = 0
    errors: int = 0
    elapsed_s: float = 0.0
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    mean_ms: float | None = None
    statuses: dict[str, int] = field(default_factory=dict)
    client: str = ""
    note: str = ""

    @property
    def rps(self) -> float:
        return self.requests / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def rps_ok(self) -> float:
        """Successful requests per second: errors are not throughput."""
        return (self.requests - self.errors) / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def as_dict(self) -> dict:
        return {
            "connections": self.connections,
            "requests": self.requests,
            "errors": self.errors,
            "elapsed_s": round(self.elapsed_s, 3),
            "req_per_s": round(self.rps, 1),
            "ok_req_per_s": round(self.rps_ok, 1),
            "p50_ms": _r(self.p50_ms),
            "p95_ms": _r(self.p95_ms),
            "p99_ms": _r(self.p99_ms),
            "max_ms": _r(self.max_ms),
            "mean_ms": _r(self.mean_ms),
            "statuses": self.statuses,
            "client": self.client,
            "note": self.note,
        }


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 2)


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return None
    k = max(0, min(len(sorted_values) - 1, math.ceil(q / 100 * len(sorted_values)) - 1))
    return sorted_values[k]


def summarise(phase: Phase, latencies_s: list[float]) -> Phase:
    lat = sorted(x * 1000 for x in latencies_s)
    phase.p50_ms, phase.p95_ms, phase.p99_ms = (percentile(lat, q) for q in (50, 95, 99))
    phase.max_ms = lat[-1] if lat else None
    phase.mean_ms = sum(lat) / len(lat) if lat else None
    return phase


# --- wrk ----------------------------------------------------------------------------------------

LUA = r"""
local paths = {PATHS}
local method = {METHOD}
local headers = {HEADERS}
local body = {BODY}
local counter = 0
local threads = {}

function setup(thread)
  thread:set("offset", #threads * 7919)
  table.insert(threads, thread)
end

function init(args)
  counter = offset or 0
end

function request()
  counter = counter + 1
  return wrk.format(method, paths[(counter % #paths) + 1], headers, body)
end

function done(summary, latency, requests)
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, "status": %d, ' ..
    '"timeout": %d, "p50": %d, "p95": %d, "p99": %d, "max": %d, "mean": %f}\n',
    summary.requests, summary.duration, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max, latency.mean))
end
"""


def _lua_string(s: str) -> str:
    if not s.isascii():
        raise ValueError("wrk scripts take ASCII request text only")
    return json.dumps(s)  # a JSON string of ASCII text is a valid Lua string literal


def wrk_path() -> str | None:
    return shutil.which("wrk")


def wrk_version() -> str:
    exe = wrk_path()
    if not exe:
        return ""
    out = subprocess.run([exe, "-v"], capture_output=True, text=True)
    m = re.search(r"wrk\s+(\S+)", out.stdout + out.stderr)
    return f"wrk {m.group(1)}" if m else "wrk"


def run_wrk(
    base_url: str,
    paths: list[str],
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: str | None = None,
    connections: int,
    seconds: float,
    threads: int = 1,
    timeout_s: int = 30,
) -> Phase:
    exe = wrk_path()
    assert exe, "wrk is not installed"
    script = (
        LUA.replace("{PATHS}", "{" + ", ".join(_lua_string(p) for p in paths) + "}")
        .replace("{METHOD}", _lua_string(method))
        .replace(
            "{HEADERS}",
            "{" + ", ".join(f"[{_lua_string(k)}] = {_lua_string(v)}" for k, v in (headers or {}).items()) + "}",
        )
        .replace("{BODY}", "nil" if body is None else _lua_string(body))
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
        script_path = f.name
    try:
        threads = max(1, min(threads, connections))
        cmd = [
            exe,
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            f"--timeout={timeout_s}s",
            "-s",
            script_path,
            base_url,
        ]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + timeout_s + 60)
    finally:
        Path(script_path).unlink(missing_ok=True)
    m = re.search(r"BENCH_JSON (\{.*\})", out.stdout)
    if not m:
        raise RuntimeError(f"wrk failed: {out.stdout}\n{out.stderr}")
    d = json.loads(m.group(1))
    errors = d["connect"] + d["read"] + d["write"] + d["status"] + d["timeout"]
    note = f"non-2xx/3xx: {d['status']}" if d["status"] else ""
    if d["timeout"]:
        note = (note + "; " if note else "") + f"timeouts: {d['timeout']}"
    return Phase(
        connections=connections,
        requests=d["requests"],
        errors=errors,
        elapsed_s=d["duration_us"] / 1e6,
        p50_ms=d["p50"] / 1000,
        p95_ms=d["p95"] / 1000,
        p99_ms=d["p99"] / 1000,
        max_ms=d["max"] / 1000,
        mean_ms=d["mean"] / 1000,
        client="wrk",
        note=note,
    )


# --- asyncio client --------------------------------------------------------------------------------


class Response:
    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body


class HttpConnection:
    """One keep-alive HTTP/1.1 connection (reopened if the server closes it)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
            self.writer = self.reader = None

    async def request(
        self, method: str, path: str, headers: dict[str, str] | None = None, body: bytes | None = None
    ) -> Response:
        if self.writer is None:
            await self._open()
        assert self.reader is not None and self.writer is not None
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        if body is not None or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body or b'')}")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b""))
        status_line = await self.reader.readline()
        if not status_line:
            await self.close()
            raise ConnectionError("server closed the connection")
        status = int(status_line.split()[1])
        resp_headers: dict[str, str] = {}
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            k, _, v = line.decode("latin-1").partition(":")
            resp_headers[k.strip().lower()] = v.strip()
        if "content-length" in resp_headers:
            data = await self.reader.readexactly(int(resp_headers["content-length"]))
        elif resp_headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int((await self.reader.readline()).split(b";")[0], 16)
                if size == 0:
                    await self.reader.readline()
                    break
                parts.append(await self.reader.readexactly(size))
                await self.reader.readline()
            data = b"".join(parts)
        else:
            data = b""
        if resp_headers.get("connection", "").lower() == "close":
            await self.close()
        return Response(status, resp_headers, data)


# An operation: one timed request on a connection; returns the response status.
Op = Callable[[HttpConnection], Awaitable[int]]


async def run_asyncio(
    host: str,
    port: int,
    make_op: Callable[[int], Awaitable[Op]],
    *,
    connections: int,
    seconds: float,
    cap: int | None = None,
    min_requests: int = 1,
    hard_limit_s: float | None = None,
    request_timeout_s: float = 300.0,
) -> Phase:
    """`connections` workers, each with its own connection and operation (make_op(worker index), which may
    prepare state first, untimed), repeat their operation until `seconds` have passed and at least
    `min_requests` are done (but never past `hard_limit_s`), or `cap` requests have started (less those that
    failed). Requests in
    flight at the end are waited for; elapsed time runs to the last completion."""
    ops = [await make_op(i) for i in range(connections)]
    conns = [HttpConnection(host, port) for _ in range(connections)]
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    errors = 0
    started = 0
    hard = hard_limit_s if hard_limit_s is not None else max(seconds * 4, seconds + 60)
    t_start = time.perf_counter()

    def may_start() -> bool:
        elapsed = time.perf_counter() - t_start
        if cap is not None and started - errors >= cap:  # failed requests do not use up the cap
            return False
        if elapsed >= hard:
            return False
        return elapsed < seconds or len(latencies) + errors < min_requests

    async def worker(i: int) -> None:
        nonlocal errors, started
        while may_start():
            started += 1
            t0 = time.perf_counter()
            try:
                status = await asyncio.wait_for(ops[i](conns[i]), request_timeout_s)
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ConnectionError, ValueError) as exc:
                errors += 1
                statuses[type(exc).__name__] = statuses.get(type(exc).__name__, 0) + 1
                await conns[i].close()
                continue
            latencies.append(time.perf_counter() - t0)
            statuses[str(status)] = statuses.get(str(status), 0) + 1
            if status >= 400:
                errors += 1

    await asyncio.gather(*(worker(i) for i in range(connections)))
    elapsed = time.perf_counter() - t_start
    for c in conns:
        await c.close()
    phase = Phase(
        connections=connections,
        requests=len(latencies),
        errors=errors,
        elapsed_s=elapsed,
        statuses=statuses,
        client="asyncio",
    )
    bad = {k: v for k, v in statuses.items() if not k.isdigit() or int(k) >= 400}
    if bad:
        phase.note = "errors: " + ", ".join(f"{k} x{v}" for k, v in sorted(bad.items()))
    return summarise(phase, latencies)


def rotating_op(
    method: str, paths: list[str], headers: dict[str, str] | None = None, body: bytes | None = None
) -> Callable[[int], Awaitable[Op]]:
    """Each worker cycles through `paths` from its own offset (like the wrk script)."""

    async def make(i: int) -> Op:
        counter = i * 7919

        async def op(conn: HttpConnection) -> int:
            nonlocal counter
            counter += 1
            return (await conn.request(method, paths[counter % len(paths)], headers, body)).status

        return op

    return make
