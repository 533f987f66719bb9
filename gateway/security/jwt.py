"""OAuth2 client-credentials bearer tokens: a JWT signed by the council's or NHS identity provider,
validated against its JWKS, issuer and audience. The token's ``scope`` claim carries the same scopes as
an API key (``ingest:compact/staffordshire-police``, ``recipient:la.886``, ``operator``); the role is
taken from them."""

from __future__ import annotations

from typing import Any

import jwt

from gateway.security.principal import Principal, Role, valid_scope


class JwtVerifier:
    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        jwks_url: str | None = None,
        jwks: dict[str, Any] | None = None,
        algorithms: tuple[str, ...] = ("RS256", "ES256"),
    ):
        self.issuer = issuer
        self.audience = audience
        self.algorithms = list(algorithms)
        self._client = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=300) if jwks_url else None
        self._keys = jwt.PyJWKSet.from_dict(jwks) if jwks else None

    def _key(self, token: str) -> Any:
        kid = jwt.get_unverified_header(token).get("kid")
        if self._client is not None:
            return self._client.get_signing_key_from_jwt(token).key
        assert self._keys is not None
        for k in self._keys.keys:
            if kid is None or k.key_id == kid:
                return k.key
        raise jwt.InvalidTokenError("no matching key in the JWKS")

    def verify(self, token: str) -> Principal | None:
        try:
            claims = jwt.decode(
                token,
                self._key(token),
                algorithms=self.algorithms,
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except (jwt.PyJWTError, AssertionError):
            return None
        scopes = str(claims.get("scope", "")).split()
        role: Role | None = None
        for candidate in ("operator", "source", "recipient"):
            if any(valid_scope(candidate, s) for s in scopes):  # type: ignore[arg-type]
                role = candidate  # type: ignore[assignment]
                break
        if role is None:
            return None
        mine = frozenset(s for s in scopes if valid_scope(role, s))
        return Principal(id=f"jwt:{claims.get('client_id') or claims['sub']}"[:160], role=role, scopes=mine)
