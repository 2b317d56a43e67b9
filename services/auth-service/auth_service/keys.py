"""Signing keys, the public key set, tokens and client checks: pure functions, no I/O."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from service_kit.tokens import ALGORITHM, decode_with_key_set


class InvalidClient(Exception):
    """Unknown client id or wrong secret (deliberately not told apart)."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: Ed25519PrivateKey

    @classmethod
    def from_seed(cls, seed: str) -> SigningKey:
        """The seed's sha256 is the Ed25519 private key, so every task derives the same key."""
        private_key = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(seed.encode()).digest())
        return cls(kid=_thumbprint(private_key), private_key=private_key)

    def public_jwk(self) -> dict[str, str]:
        raw = self.private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": _b64url(raw),
            "kid": self.kid,
            "alg": ALGORITHM,
            "use": "sig",
        }


def _thumbprint(private_key: Ed25519PrivateKey) -> str:
    """RFC 7638 JWK thumbprint: a kid that changes exactly when the key does."""
    raw = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    canonical = json.dumps(
        {"crv": "Ed25519", "kty": "OKP", "x": _b64url(raw)}, separators=(",", ":")
    )
    return _b64url(hashlib.sha256(canonical.encode()).digest())


@dataclass(frozen=True)
class KeyRing:
    """The current key signs; the previous one (if any) only verifies, during a rotation."""

    current: SigningKey
    previous: SigningKey | None = None

    @classmethod
    def from_seeds(cls, seed: str, previous_seed: str | None = None) -> KeyRing:
        previous = SigningKey.from_seed(previous_seed) if previous_seed else None
        return cls(current=SigningKey.from_seed(seed), previous=previous)

    def verification_keys(self) -> dict[str, SigningKey]:
        keys = [self.current] + ([self.previous] if self.previous else [])
        return {key.kid: key for key in keys}

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        return {"keys": [key.public_jwk() for key in self.verification_keys().values()]}


def check_client(clients: dict[str, str], client_id: str, client_secret: str) -> None:
    """Raise InvalidClient unless the secret's sha256 matches the client's stored digest.

    Unknown ids are compared against a dummy digest so both failures take the same time.
    """
    expected = clients.get(client_id, "0" * 64).lower().encode()
    presented = hashlib.sha256(client_secret.encode()).hexdigest().encode()
    if not hmac.compare_digest(presented, expected) or client_id not in clients:
        raise InvalidClient(client_id)


def issue_token(
    ring: KeyRing,
    *,
    subject: str,
    issuer: str,
    audience: str | list[str],
    ttl_seconds: int,
    now: int,
) -> str:
    claims = {
        "iss": issuer,
        "sub": subject,
        "aud": audience,
        "iat": now,
        "nbf": now,
        "exp": now + ttl_seconds,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(
        claims, ring.current.private_key, algorithm=ALGORITHM, headers={"kid": ring.current.kid}
    )


def verify_token(
    ring: KeyRing, token: str, *, issuer: str, audience: str | Sequence[str]
) -> dict[str, Any]:
    public_keys = {
        kid: key.private_key.public_key() for kid, key in ring.verification_keys().items()
    }
    return decode_with_key_set(token, public_keys, issuer=issuer, audience=audience)
