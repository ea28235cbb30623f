"""Registry tokens (Docker token authentication spec): ES256 JWTs signed by keys kept in the database.

The newest unretired key signs; every key verifies, so tokens signed before a rotation stay valid until
they expire.
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..db.accounts import SigningKey
from ..db.base import utcnow

ALGORITHM = "ES256"
LEEWAY = 30  # seconds of clock skew tolerated between replicas


class InvalidToken(Exception):
    """The token is malformed, forged, expired or meant for another service."""


@dataclass(frozen=True, slots=True)
class IssuedJwt:
    token: str
    expires_in: int
    issued_at: str


def _kid(public_key: ec.EllipticCurvePublicKey) -> str:
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b32encode(hashlib.sha256(der).digest()[:15]).decode()


async def ensure_signing_key(session: AsyncSession) -> None:
    """Make a key on first start (run once, before workers start)."""
    if await session.scalar(select(SigningKey.kid).where(SigningKey.retired_at.is_(None)).limit(1)) is None:
        await _add_key(session)


async def rotate_signing_key(session: AsyncSession) -> str:
    """Retire the signing keys and make a new one. Returns the new key's id."""
    await session.execute(update(SigningKey).where(SigningKey.retired_at.is_(None)).values(retired_at=utcnow()))
    return await _add_key(session)


async def _add_key(session: AsyncSession) -> str:
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    kid = _kid(private.public_key())
    session.add(SigningKey(kid=kid, private_pem=pem))
    return kid


class TokenSigner:
    """Signs and verifies the registry's JWTs for one service name."""

    def __init__(self, issuer: str, service: str, ttl: int) -> None:
        self.issuer, self.service, self.ttl = issuer, service, ttl
        self._private: dict[str, ec.EllipticCurvePrivateKey] = {}
        self._signing_kid: str | None = None

    async def load(self, session: AsyncSession) -> None:
        rows = (await session.execute(select(SigningKey).order_by(SigningKey.created_at))).scalars().all()
        self._private = {k.kid: serialization.load_pem_private_key(k.private_pem.encode(), None)  # type: ignore[misc]
                         for k in rows}
        active = [k.kid for k in rows if k.retired_at is None]
        self._signing_kid = active[-1] if active else None

    def knows(self, kid: str) -> bool:
        return kid in self._private

    def issue(self, subject: str, access: list[dict[str, Any]], ttl: int | None = None) -> IssuedJwt:
        if self._signing_kid is None:
            raise RuntimeError("no signing key: run `berth-registry migrate` or start the server once")
        now = int(time.time())
        ttl = ttl or self.ttl
        claims = {"iss": self.issuer, "sub": subject, "aud": self.service, "exp": now + ttl, "nbf": now - 1,
                  "iat": now, "jti": uuid.uuid4().hex, "access": access}
        token = jwt.encode(claims, self._private[self._signing_kid], algorithm=ALGORITHM,
                           headers={"kid": self._signing_kid})
        issued = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
        return IssuedJwt(token, ttl, issued)

    def unverified_kid(self, token: str) -> str:
        try:
            return str(jwt.get_unverified_header(token).get("kid", ""))
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from None

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a token this registry signed for this service and that is valid now."""
        key = self._private.get(self.unverified_kid(token))
        if key is None:
            raise InvalidToken("unknown signing key")
        try:
            claims = jwt.decode(token, key.public_key(), algorithms=[ALGORITHM], audience=self.service,
                                issuer=self.issuer, leeway=LEEWAY,
                                options={"require": ["exp", "nbf", "iat", "iss", "aud", "sub", "jti"]})
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from None
        if not isinstance(claims.get("access"), list):
            raise InvalidToken("the token has no access claim")
        return claims
