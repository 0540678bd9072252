"""Pure checks for providers' own settings: US addresses and intake-form questions. No I/O."""

import re

QUESTION_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
CHOICE_KINDS = frozenset({"single_choice", "multi_choice"})


def us_zip(raw: str) -> str:
    """A ZIP code, `12345` or ZIP+4 (`12345-6789`, also accepted as 9 digits); returned as `12345` or `12345-6789`."""
    value = raw.strip()
    match = re.fullmatch(r"([0-9]{5})(?:-?([0-9]{4}))?", value)
    if not match:
        raise ValueError("not a US ZIP code: 5 digits, or ZIP+4 as 12345-6789")
    return match.group(1) + (f"-{match.group(2)}" if match.group(2) else "")


def dedupe(values: list[str]) -> list[str]:
    """Strip each value and drop repeats (ignoring case), keeping the first spelling and the order."""
    seen: set[str] = set()
    kept = []
    for value in (v.strip() for v in values):
        if value.casefold() not in seen:
            seen.add(value.casefold())
            kept.append(value)
    return kept
