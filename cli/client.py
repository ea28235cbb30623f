"""A client of the OCI Distribution API with Docker token authentication, on aiohttp.

It answers the registry's challenges as docker does: a Bearer challenge sends it to the token server
(with the refresh token of a login when it has one, else Basic credentials, else anonymously) for the
scopes the request needs; a Basic challenge gets the credentials directly. Tokens are kept per scope.
"""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

from .credentials import Credentials
from .errors import AuthError, CliError, NetworkError, NotFound

_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')
CLIENT_ID = "berth"


def basic_header(credentials: Credentials) -> str:
    pair = f"{credentials.username}:{credentials.password}".encode()
    return "Basic " + base64.b64encode(pair).decode()


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    scheme, _, params = header.strip().partition(" ")
    return scheme.lower(), dict(_CHALLENGE_PARAM.findall(params))


class RegistryClient:
    def __init__(self, session: aiohttp.ClientSession, registry: str, plain_http: bool,
                 credentials: Credentials | None = None) -> None:
        self.session, self.registry = session, registry
        self.base = f"{'http' if plain_http else 'https'}://{registry}"
        self.credentials = credentials
        self._authorization: dict[tuple[str, ...], str] = {}  # scopes -> Authorization header
        self.refresh_token: str | None = None  # set when a login asked for one and got it

    def on_session(self, session: aiohttp.ClientSession) -> RegistryClient:
        """This client over another session (other connections), sharing its credentials and tokens."""
        other = RegistryClient(session, self.registry, self.base.startswith("http:"), self.credentials)
        other._authorization = self._authorization
        return other

    @asynccontextmanager
    async def request(self, method: str, path: str, scopes: tuple[str, ...] = (), *,
                      expect: tuple[int, ...] = (200,), **kwargs: Any) -> AsyncIterator[aiohttp.ClientResponse]:
        """Send a request, answering one auth challenge; yields a response whose status is in `expect`."""
        url = path if path.startswith("http") else self.base + path
        headers = dict(kwargs.pop("headers", {}) or {})
        for attempt in (0, 1):
            if scopes in self._authorization:
                headers["Authorization"] = self._authorization[scopes]
            try:
                response = await self.session.request(method, url, headers=headers, **kwargs)
            except aiohttp.ClientError as exc:
                raise NetworkError(f"{self.registry}: {_describe(exc)}") from None
            except TimeoutError:
                raise NetworkError(f"{self.registry}: timed out") from None
            try:
                # A body in memory can go again; a streamed one cannot (it is spent).
                if response.status == 401 and attempt == 0 and _resendable(kwargs.get("data")):
                    await self._answer(response.headers.get("WWW-Authenticate", ""), scopes)
                    continue
                if response.status not in expect:
                    await raise_for(response, self.registry)
                yield response
                return
            finally:
                response.release()

    async def _answer(self, challenge: str, scopes: tuple[str, ...], offline: bool = False) -> None:
        scheme, params = parse_challenge(challenge)
        credentials = self.credentials
        if scheme == "basic":
            if not credentials or not credentials.password:
                raise AuthError(f"{self.registry}: authentication required (run `berth login {self.registry}`)")
            basic = basic_header(credentials)
            self._authorization[scopes] = basic
            return
        if scheme != "bearer" or "realm" not in params:
            raise AuthError(f"{self.registry}: unsupported authentication challenge {challenge[:80]!r}")
        token = await self._token(params["realm"], params.get("service", ""),
                                  tuple(filter(None, (params.get("scope"), *scopes))), offline)
        self._authorization[scopes] = f"Bearer {token}"

    async def _token(self, realm: str, service: str, scopes: tuple[str, ...], offline: bool) -> str:
        credentials = self.credentials
        try:
            # A login with only an identity token (a stored one being checked) refreshes it: asking for an
            # offline token without a password would get an anonymous one and prove nothing.
            if credentials and credentials.identity_token and not (offline and credentials.password):
                form = {"grant_type": "refresh_token", "refresh_token": credentials.identity_token,
                        "service": service, "client_id": CLIENT_ID, "scope": " ".join(dict.fromkeys(scopes))}
                response = await self.session.post(realm, data=form)
            else:
                params = [("service", service), *(("scope", s) for s in dict.fromkeys(scopes))]
                auth_headers: dict[str, str] = {}
                if credentials and credentials.password:
                    params += [("account", credentials.username), ("client_id", CLIENT_ID)]
                    auth_headers = {"Authorization": basic_header(credentials)}
                if offline:
                    params.append(("offline_token", "true"))
                response = await self.session.get(realm, params=params, headers=auth_headers)
        except aiohttp.ClientError as exc:
            raise NetworkError(f"token server {realm}: {_describe(exc)}") from None
        async with response:
            if response.status == 401:  # worded as docker words a refused login
                raise AuthError(f"{self.registry}: unauthorized: "
                                f"{await _message(response) or 'incorrect username or password'}")
            if response.status == 403:
                raise AuthError(f"{self.registry}: {await _message(response) or 'unauthorized'}")
            if response.status == 429:
                raise AuthError(f"{self.registry}: too many failed logins; try again in "
                                f"{response.headers.get('Retry-After', 'a while')} s")
            if response.status != 200:
                raise CliError(f"token server {realm} answered {response.status}")
            body = await response.json(content_type=None)
        token = body.get("token") or body.get("access_token")
        if not isinstance(token, str) or not token:
            raise AuthError(f"token server {realm} gave no token")
        if offline and isinstance(body.get("refresh_token"), str):
            self.refresh_token = body["refresh_token"]
        return token

    async def login(self) -> None:
        """Check the credentials against the registry (asking for a refresh token, as docker does)."""
        challenge = await self._challenge()
        if challenge is None:
            return
        await self._answer(challenge, (), offline=True)
        async with self.request("GET", "/v2/", expect=(200, 401)) as response:
            if response.status == 401:  # the credentials answered a Basic challenge and were refused
                raise AuthError(f"{self.registry}: unauthorized: incorrect username or password")

    async def authorize(self, scopes: tuple[str, ...]) -> None:
        """Authorize requests for `scopes` up front, for endpoints that also answer anonymous callers (docker's
        /v1/search): a password goes as Basic credentials, as docker's v1 client sends it; an identity token
        is traded for a registry token through the challenge of GET /v2/. Without credentials, nothing."""
        credentials = self.credentials
        if credentials and credentials.password:
            self._authorization[scopes] = basic_header(credentials)
        elif credentials and credentials.identity_token:
            challenge = await self._challenge()
            if challenge is not None:
                await self._answer(challenge, scopes)

    async def _challenge(self) -> str | None:
        """GET /v2/: None when it lets the caller in, else its WWW-Authenticate challenge."""
        try:
            response = await self.session.get(self.base + "/v2/")
        except aiohttp.ClientError as exc:
            raise NetworkError(f"{self.registry}: {_describe(exc)}") from None
        except TimeoutError:
            raise NetworkError(f"{self.registry}: timed out") from None
        async with response:
            if response.status == 200:
                return None
            if response.status != 401:
                await raise_for(response, self.registry)
            return response.headers.get("WWW-Authenticate", "")


async def _message(response: aiohttp.ClientResponse) -> str:
    try:
        body = await response.json(content_type=None)
        errors = body.get("errors") if isinstance(body, dict) else None
        if errors and isinstance(errors[0], dict):
            return str(errors[0].get("message") or errors[0].get("code") or "")
    except (ValueError, aiohttp.ClientError):
        pass
    return ""


async def raise_for(response: aiohttp.ClientResponse, registry: str) -> None:
    message = await _message(response)
    where = f"{registry}: {message or response.reason}"
    if response.status in (401, 403):
        raise AuthError(f"{where} (denied: log in with `berth login {registry}`, or check the name)")
    if response.status == 404:
        raise NotFound(where)
    raise CliError(f"{registry} answered {response.status}: {message or response.reason}")


def _resendable(data: Any) -> bool:
    return data is None or isinstance(data, bytes | bytearray | str)


def _describe(exc: Exception) -> str:
    return str(exc) or type(exc).__name__
