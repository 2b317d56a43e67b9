"""What a valid token is, in one place: auth-service checks its own tokens (POST /verify) and
api-service and notification-service check the bearer tokens they receive (service_kit.bearer)
by exactly the same rules.

Only services that handle tokens import this module; they list PyJWT in their requirements.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

# The only algorithm accepted: pinning it is what defeats "alg: none" and HS256-with-the-public-
# key confusion, whatever a token's header claims.
ALGORITHM = "EdDSA"
REQUIRED_CLAIMS = ["exp", "iat", "sub"]


class InvalidToken(Exception):
    """Malformed, expired, for another audience or issuer, or not signed by the key given."""


def key_id(token: str) -> str:
    """The `kid` the token's header names. Read before the signature is checked: it only picks
    the key to check it with."""
    try:
        return str(jwt.get_unverified_header(token).get("kid"))
    except jwt.PyJWTError as error:
        raise InvalidToken(str(error)) from None


def decode_with_key_set(
    token: str,
    keys: Mapping[str, Ed25519PublicKey | jwt.PyJWK],
    *,
    issuer: str,
    audience: str | Sequence[str],
) -> dict[str, Any]:
    """decode_token with the key, among `keys` (by kid), that the token's header names."""
    key = keys.get(key_id(token))
    if key is None:
        raise InvalidToken("token signed by an unknown key")
    return decode_token(token, key, issuer=issuer, audience=audience)


def decode_token(
    token: str,
    public_key: Ed25519PublicKey | jwt.PyJWK,
    *,
    issuer: str,
    audience: str | Sequence[str],
) -> dict[str, Any]:
    """The token's claims, once its signature, expiry, issuer and audience have been checked
    (a sequence of audiences: the token names at least one of them)."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            public_key,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=issuer,
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.PyJWTError as error:
        raise InvalidToken(str(error)) from None
    return claims
