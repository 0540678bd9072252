"""Opaque secrets: generated here, stored only as SHA-256, recognisable by their prefix.

Prefixes let secret scanners and people tell a leaked value's kind at a glance:
`cls_` a login session, `ck_live_` / `ck_test_` a partner API key (live or test mode; older keys are `ck_`
and a URL-safe tail), `cev_` an email verification link, `cpr_` a password
reset link, `clc_` a login's two-factor challenge.
"""

import hashlib
import secrets
import string

SESSION_PREFIX = "cls_"
API_KEY_PREFIX = "ck_"
VERIFICATION_PREFIX = "cev_"
RESET_PREFIX = "cpr_"
CHALLENGE_PREFIX = "clc_"
API_KEY_MODES = ("live", "test")
# X7: a fixed length of base62 after the prefix, so scanners can match keys exactly:
# \bck_(live|test)_[0-9A-Za-z]{38}\b (38 characters carry 226 random bits).
API_KEY_BODY_LENGTH = 38
_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


def new_secret(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def new_api_key(mode: str) -> str:
    if mode not in API_KEY_MODES:
        raise ValueError(mode)
    return f"{API_KEY_PREFIX}{mode}_" + "".join(secrets.choice(_BASE62) for _ in range(API_KEY_BODY_LENGTH))


def digest(secret: str) -> bytes:
    # A fast hash is right here: the secrets carry 256 random bits, so there is nothing to brute-force.
    return hashlib.sha256(secret.encode()).digest()
