"""Who is calling and what they may do: Bearer registry tokens, Basic credentials, and challenges.

Docker token authentication (distribution's "Token Authentication Specification"): a /v2 request without
enough rights is answered 401 with a Bearer challenge naming the token realm, the service and the scope
the request needs. A request may also carry Basic credentials directly (podman, skopeo --creds, oras).
What a token lists is only an upper bound: the rights are checked against the database as it stands
now (cached until the next commit), so making a repository private or leaving a team takes effect at
once, not when tokens expire.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from aiohttp import web

from .. import errors
from ..db import Database
from ..db.readpath import Reader
from ..services import audit, logins
from ..services.access import ANONYMOUS, NONE, Principal, actions_for, repository_level
from ..services.cache import ReadCache
from ..services.credentials import authenticate, credential_fingerprint, mark_token_used, principal_named
from ..services.signing import LEEWAY, InvalidToken, TokenSigner
from ..settings import Settings

# Basic credentials come with every request of some clients: the slow password check runs once in a while.
REMEMBER_LOGIN_SECONDS = 600
IDENTITY = web.RequestKey("identity", object)
BASIC_CHALLENGE = {"WWW-Authenticate": 'Basic realm="berth"'}
_HOST = re.compile(r"[A-Za-z0-9.-]{1,253}(?::[0-9]{1,5})?|\[[0-9A-Fa-f:.]{2,45}\](?::[0-9]{1,5})?")


@dataclass(frozen=True, slots=True)
class Identity:
    """What a request proved: a principal, and for a Bearer token the access it lists."""
    principal: Principal
    token_access: dict[tuple[str, str], frozenset[str]] | None = None  # None: not limited by a token
    authenticated: bool = True  # False when no credentials came at all


NOBODY = Identity(ANONYMOUS, authenticated=False)


@dataclass(frozen=True, slots=True)
class _RememberedLogin:
    principal: Principal
    fingerprint: str
    until: float


@dataclass(frozen=True, slots=True)
class _VerifiedToken:
    subject: str
    access: dict[tuple[str, str], frozenset[str]]
    expires: float


@dataclass
class Gatekeeper:
    settings: Settings
    db: Database
    signer: TokenSigner
    cache: ReadCache
    login_limits: logins.LoginLimits = field(default_factory=logins.LoginLimits)
    _logins: dict[str, _RememberedLogin] = field(default_factory=dict)
    _tokens: OrderedDict[str, _VerifiedToken] = field(default_factory=OrderedDict)

    # -- challenges ---------------------------------------------------------------------------------

    def realm(self, request: web.Request) -> str:
        if self.settings.public_url:
            return self.settings.public_url + "/token"
        proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
        host = request.headers.get("X-Forwarded-Host", "").split(",")[0].strip()
        # Forwarded values end up inside a quoted header parameter: only plain ones are taken.
        proto = proto if proto in ("http", "https") else request.scheme
        host = host if _HOST.fullmatch(host) else request.host
        return f"{proto}://{host}/token"

    def challenge(self, request: web.Request, scope: str = "", error: str = "",
                  message: str = "authentication required") -> errors.Unauthorized:
        value = f'Bearer realm="{self.realm(request)}",service="{self.settings.token_service}"'
        if scope:
            value += f',scope="{scope}"'
        if error:
            value += f',error="{error}"'
        return errors.Unauthorized(message, headers={"WWW-Authenticate": value})

    # -- identifying the caller ----------------------------------------------------------------------

    async def identify(self, request: web.Request) -> Identity:
        """The caller, from the Authorization header (parsed once per request)."""
        found = request.get(IDENTITY)
        if found is None:
            found = request[IDENTITY] = await self._identify(request)
        return found  # type: ignore[return-value]

    async def _identify(self, request: web.Request) -> Identity:
        header = request.headers.get("Authorization", "")
        scheme, _, credentials = header.partition(" ")
        if not header:
            return NOBODY
        if scheme.lower() == "bearer":
            return await self._bearer(request, credentials.strip())
        if scheme.lower() == "basic":
            username, secret = parse_basic(credentials)
            return Identity(await self.login(request, username, secret))
        raise self.challenge(request, error="invalid_request", message="unsupported authorization scheme")

    async def _bearer(self, request: web.Request, token: str) -> Identity:
        # Verified tokens are remembered until they expire: a pull's many requests verify one signature.
        verified = self._tokens.get(token)
        if verified is None or verified.expires <= time.time():
            verified = self._tokens[token] = await self._verify(request, token)
            if len(self._tokens) > 10_000:
                self._tokens.popitem(last=False)
        principal = await self.cache.lookup(("principal", verified.subject),
                                            lambda reader: principal_named(reader, verified.subject))
        return Identity(principal or ANONYMOUS, verified.access)

    async def _verify(self, request: web.Request, token: str) -> _VerifiedToken:
        try:
            if not self.signer.knows(self.signer.unverified_kid(token)):
                await self.reload_keys()  # signed by a key another worker made or rotated in
            claims = self.signer.verify(token)
        except InvalidToken as exc:
            raise self.challenge(request, error="invalid_token", message=f"invalid token: {exc}") from None
        access: dict[tuple[str, str], frozenset[str]] = {}
        for entry in claims["access"]:
            if isinstance(entry, dict) and isinstance(entry.get("actions"), list):
                key = (str(entry.get("type")), str(entry.get("name")))
                access[key] = access.get(key, frozenset()) | frozenset(map(str, entry["actions"]))
        return _VerifiedToken(str(claims["sub"]), access, claims["exp"] + LEEWAY)

    async def reload_keys(self) -> None:
        async with self.db.read() as session:
            await self.signer.load(session)

    async def login(self, request: web.Request, username: str, secret: str) -> Principal:
        """Check Basic credentials: rate-limited and audited. A good login is remembered for a while, as
        long as the password, token or robot secret it used stays as it was (checked on every use)."""
        if "\0" in username:  # no account has one, and PostgreSQL cannot store it to count the failure
            raise errors.Unauthorized("incorrect username or password", headers=BASIC_CHALLENGE)
        key = hashlib.sha256(f"{username}\0{secret}".encode()).hexdigest()
        remembered = self._logins.get(key)
        if remembered and remembered.until > time.monotonic() \
                and await self._fingerprint(key, username, secret) == remembered.fingerprint:
            return remembered.principal
        address = request.remote or ""
        async with self.db.read() as session:
            wait = await logins.retry_after(session, self.login_limits, username, address)
        if wait is not None:
            raise errors.TooManyRequests(f"too many failed logins: try again in {wait} s",
                                         headers={"Retry-After": str(wait)})
        async with self.db.write() as session:
            principal = await authenticate(session, username, secret)
            if principal is None:
                await logins.record_failure(session, self.login_limits, username, address)
                audit.record(session, username[:100], "login_failed", address=address)
            else:
                await logins.record_success(session, username)
                await mark_token_used(session, secret)
                audit.record(session, principal.name, "login", address=address)
        if principal is None:
            raise errors.Unauthorized("incorrect username or password", headers=BASIC_CHALLENGE)
        fingerprint = await self._fingerprint(key, username, secret)
        if fingerprint is not None:
            if len(self._logins) > 10_000:
                self._logins.clear()
            self._logins[key] = _RememberedLogin(principal, fingerprint, time.monotonic() + REMEMBER_LOGIN_SECONDS)
        return principal

    async def _fingerprint(self, key: str, username: str, secret: str) -> str | None:
        return await self.cache.lookup(("credential", key),
                                       lambda reader: credential_fingerprint(reader, username, secret))

    # -- authorizing ---------------------------------------------------------------------------------

    async def level(self, principal: Principal, repository: str) -> int:
        async def compute(reader: Reader) -> int:
            return await repository_level(reader, principal, repository)
        level = await self.cache.lookup(("level", principal, repository), compute)
        return NONE if level is None else level

    async def allowed(self, request: web.Request, repository: str) -> frozenset[str]:
        """The actions the caller may take on `repository` now."""
        identity = await self.identify(request)
        actions = actions_for(await self.level(identity.principal, repository))
        if identity.token_access is not None:
            listed = identity.token_access.get(("repository", repository), frozenset())
            actions = actions if "*" in listed else actions & listed
        return actions

    async def require(self, request: web.Request, repository: str, action: str) -> None:
        """Pass, or raise what the spec asks: a challenge (401) or DENIED (403) for Basic callers."""
        if action in await self.allowed(request, repository):
            return
        identity = await self.identify(request)
        scope = f"repository:{repository}:{'pull,push' if action == 'push' else action}"
        if not identity.authenticated:
            raise self.challenge(request, scope)
        if identity.token_access is not None:
            raise self.challenge(request, scope, error="insufficient_scope",
                                 message="insufficient scope: requested access to the resource is denied")
        raise errors.Denied()


def parse_basic(credentials: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise errors.Unauthorized("malformed Basic credentials", headers=BASIC_CHALLENGE) from None
    username, sep, secret = decoded.partition(":")
    if not sep or not username:
        raise errors.Unauthorized("malformed Basic credentials", headers=BASIC_CHALLENGE)
    return username, secret

