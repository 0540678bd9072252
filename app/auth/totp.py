"""Two-factor codes (A6): TOTP per RFC 6238 (pyotp) and one-time recovery codes. Pure: no I/O.

A code is accepted for its own 30-second step and the steps either side (clock drift); the caller
records the step it matched, and a step at or before the last accepted one is refused (no replay).
"""

import hmac
import secrets
from datetime import datetime

import pyotp

ISSUER = "Caseload"
STEP_SECONDS = 30
DRIFT_STEPS = 1
RECOVERY_CODE_COUNT = 10
# 16 characters of a 32-letter alphabet: 80 random bits, so a fast hash (SHA-256) stores them safely.
# No i, l, o or 1: nothing to misread when typed from paper.
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz023456789"


def new_secret() -> str:
    return pyotp.random_base32()  # 160 bits, as RFC 4226 recommends


def provisioning_uri(secret: str, account_name: str) -> str:
    """The `otpauth://` URI authenticator apps read (shown as a QR code by the front end)."""
    return pyotp.TOTP(secret).provisioning_uri(name=account_name, issuer_name=ISSUER)


def step_at(at: datetime) -> int:
    return int(at.timestamp()) // STEP_SECONDS


def matching_step(secret: str, code: str, at: datetime) -> int | None:
    """The step whose code `code` is, within the allowed drift; None when it matches none."""
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    now = step_at(at)
    matched = None
    for step in range(now - DRIFT_STEPS, now + DRIFT_STEPS + 1):
        # Every candidate is compared (constant time): how long this takes says nothing about the code.
        if hmac.compare_digest(totp.generate_otp(step), code):
            matched = step
    return matched


def code_at(secret: str, at: datetime) -> str:
    return pyotp.TOTP(secret).generate_otp(step_at(at))


def new_recovery_codes() -> list[str]:
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(16))
        codes.append("-".join(raw[i : i + 4] for i in range(0, 16, 4)))
    return codes


def normalize_recovery_code(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch.isalnum())


def looks_like_totp(code: str) -> bool:
    return len(code) == 6 and code.isdigit()
