"""Bearer tokens: HS256 JWTs signed with the deployment's key, kept in the data dir.

Claims: sub (user), org, roles, iat, exp, iss (this deployment's id), so that a token minted for another
deployment, with another key, or past its expiry is refused.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import jwt

from contracts.errors import Unauthorized
from contracts.roles import Principal, Role
from gongkai.config import Settings

ALGORITHM = "HS256"


def _key_file(settings: Settings) -> Path:
    return settings.data_dir / "keys" / "signing.key"


def signing_key(settings: Settings, *, create: bool = True) -> tuple[str, str]:
    """(key, deployment id); created on first use with owner-only permissions."""
    if settings.jwt_key_env:
        return settings.jwt_key_env, "env"
    path = _key_file(settings)
    if not path.exists():
        if not create:
            raise FileNotFoundError(f"no signing key in {path.parent}; run `gongkai up` or `gongkai token` first")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(f"{secrets.token_urlsafe(48)}\n{secrets.token_hex(8)}\n")
        tmp.chmod(0o600)
        tmp.replace(path)
    key, deployment = path.read_text().split()
    return key, deployment


def mint(settings: Settings, *, user: str, org: str, roles: list[str], ttl_s: int = 30 * 24 * 3600) -> str:
    key, deployment = signing_key(settings)
    now = int(time.time())
    claims = {"sub": user, "org": org, "roles": [Role(r).value for r in roles], "iat": now, "exp": now + ttl_s,
              "iss": f"gongkai:{deployment}"}
    return jwt.encode(claims, key, algorithm=ALGORITHM)


class Verifier:
    def __init__(self, settings: Settings):
        self.key, deployment = signing_key(settings)
        self.issuer = f"gongkai:{deployment}"

    def principal(self, authorization: str | None) -> Principal:
        if not authorization or not authorization.lower().startswith("bearer "):
            raise Unauthorized("缺少访问令牌", "missing bearer token", code="missing_token")
        token = authorization.split(" ", 1)[1].strip()
        try:
            claims = jwt.decode(token, self.key, algorithms=[ALGORITHM], issuer=self.issuer,
                                options={"require": ["exp", "sub", "iss"]})
        except jwt.ExpiredSignatureError:
            raise Unauthorized("访问令牌已过期", "token expired", code="token_expired") from None
        except jwt.PyJWTError as e:
            raise Unauthorized("访问令牌无效", f"invalid token: {e}", code="invalid_token") from None
        try:
            return Principal(user=claims["sub"], org=claims["org"], roles=claims.get("roles", []))
        except Exception:
            raise Unauthorized("访问令牌内容无效", "token claims are invalid", code="invalid_token") from None
