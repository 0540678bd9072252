"""The `Caseload-Signature` header: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`, one `v1` per secret.

During a secret rotation both the new and the previous secret sign, so a receiver that still has the old one
keeps verifying. Pure functions: no I/O.
"""

import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"
HEADER = "Caseload-Signature"


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secrets_: list[str], timestamp: int, body: bytes) -> str:
    return ",".join([f"t={timestamp}"] + [f"v1={sign(secret, timestamp, body)}" for secret in secrets_])
