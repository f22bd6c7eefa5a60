"""Who is calling: API keys from `Authorization: Bearer <key>`, role checks, request ids, and
recording denied attempts in the audit log."""

from __future__ import annotations

import hmac
import logging
import os
import secrets
import uuid
from pathlib import Path

from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from marketplace.accounts import queries as account_queries
from marketplace.accounts.models import ANONYMOUS, KEY_RE, Actor, Caller, key_hash
from marketplace.errors import Forbidden, Unauthorized
from marketplace.settings import Settings

log = logging.getLogger(__name__)


def load_secret(settings: Settings) -> bytes:
    """MARKETPLACE_SECRET, or a secret generated once into the data directory (mode 0600)."""
    if settings.secret:
        return settings.secret.encode()
    path = Path(settings.data_dir) / "secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
    return path.read_text().strip().encode()


async def provide_caller(request: Request, state: State) -> Caller:
    header = request.headers.get("authorization")
    if header is None:
        return ANONYMOUS
    scheme, _, key = header.partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        raise Unauthorized("the Authorization header must be 'Bearer <API key>'")
    if not KEY_RE.match(key):
        raise Unauthorized("malformed API key: keys look like prv_ followed by 43 characters")
    digest = key_hash(state.secret, key)
    row = await account_queries.key_by_hash(state.pool, digest)
    if row is None or not hmac.compare_digest(bytes(row["key_hash"]), digest):
        raise Unauthorized("unknown API key")
    if row["revoked_at"] is not None:
        raise Unauthorized("this API key has been revoked")
    return Caller(role=row["role"], key_id=row["id"], provider_id=row["provider_id"], name=row["name"])


# Handler parameters `caller: CallerDep` / `actor: ActorDep` receive who is calling (and through which request).
CallerDep = NamedDependency[Caller]
ActorDep = NamedDependency[Actor]


def provide_actor(request: Request, caller: CallerDep) -> Actor:
    return Actor(caller=caller, request_id=request_id_of(request.scope), method=request.method, path=request.url.path)


def require(caller: Caller, *roles: str, provider_id: int | None = None) -> None:
    """Allow the named roles; a provider key only for its own provider when provider_id is given."""
    if caller.is_anonymous:
        raise Unauthorized("this needs an API key: send 'Authorization: Bearer <key>'")
    if caller.role == "provider" and provider_id is not None and "own_provider" in roles:
        if caller.provider_id == provider_id:
            return
        raise Forbidden("a provider key may act only on its own provider", extra={"caller": caller, "provider_id": provider_id})
    if caller.role not in roles:
        allowed = [r for r in roles if r != "own_provider"] + (["provider (own profile)"] if "own_provider" in roles else [])
        raise Forbidden(f"the {caller.role} role may not do this; allowed: {', '.join(allowed)}",
                        extra={"caller": caller, "provider_id": provider_id})


def request_id_of(scope: Scope) -> str:
    return scope.get("state", {}).get("request_id", "")


def request_id_middleware(app: ASGIApp) -> ASGIApp:
    """Give every request an id (the client's X-Request-ID when it is sane) and echo it back."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        given = dict(scope.get("headers", ())).get(b"x-request-id", b"").decode("latin-1")
        rid = given if 8 <= len(given) <= 64 and given.replace("-", "").replace("_", "").isalnum() else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        await app(scope, receive, send_with_id)

    return middleware


async def audit_denials(exc: Exception, scope: Scope) -> None:
    """after_exception hook: every 401 and 403 goes into the audit log."""
    if not isinstance(exc, (Unauthorized, Forbidden)):
        return
    caller = exc.extra.get("caller", ANONYMOUS)
    actor = Actor(caller=caller, request_id=request_id_of(scope), method=scope.get("method", ""), path=scope.get("path", ""))
    try:
        await account_queries.insert_audit(
            scope["app"].state.pool, actor=actor, status=401 if isinstance(exc, Unauthorized) else 403,
            outcome="denied", provider_id=exc.extra.get("provider_id"), detail=exc.message,
        )
    except Exception:  # noqa: BLE001 - the denial stands even if it cannot be logged
        log.exception("could not record a denied request in the audit log")
