"""Opaque secrets: generated here, stored only as SHA-256, recognisable by their prefix.

Prefixes let secret scanners and people tell a leaked value's kind at a glance:
`cls_` a login session, `ck_` a partner API key, `cev_` an email verification link, `cpr_` a password
reset link, `clc_` a login's two-factor challenge.
"""

import hashlib
import secrets

SESSION_PREFIX = "cls_"
API_KEY_PREFIX = "ck_"
VERIFICATION_PREFIX = "cev_"
RESET_PREFIX = "cpr_"
CHALLENGE_PREFIX = "clc_"


def new_secret(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def digest(secret: str) -> bytes:
    # A fast hash is right here: the secrets carry 256 random bits, so there is nothing to brute-force.
    return hashlib.sha256(secret.encode()).digest()
