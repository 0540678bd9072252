"""Card numbers (PANs) never enter Caseload: a form of billing is the payment processor's token.

Pure, so it is tested directly. A value "looks like a card number" when it holds a run of 13 to 19
digits (single spaces or dashes between them allowed, as people type them) that passes the Luhn check.
Nothing here ever returns or logs the digits themselves: only where they were found.
"""

import re
from typing import Any

# A run of 13-19 digits, not part of a longer digit run; "4242 4242 4242 4242" and "4242-4242-..." count.
_DIGIT_RUN = re.compile(r"(?<!\d)\d(?:[ -]?\d){12,18}(?!\d)")


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = int(char)
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def looks_like_card_number(text: str) -> bool:
    for match in _DIGIT_RUN.finditer(text):
        digits = match.group().replace(" ", "").replace("-", "")
        if luhn_valid(digits):
            return True
    return False


def fields_with_card_numbers(payload: Any, path: str = "body") -> list[str]:
    """Dotted paths of every key or value in a decoded JSON document that looks like a card number."""
    found: list[str] = []
    if isinstance(payload, dict):
        for key, value in payload.items():
            if looks_like_card_number(str(key)):
                found.append(path)
                key = "<card number>"  # a path must not carry the digits either
            found.extend(fields_with_card_numbers(value, f"{path}.{key}"))
    elif isinstance(payload, list):
        for index, value in enumerate(payload):
            found.extend(fields_with_card_numbers(value, f"{path}.{index}"))
    elif isinstance(payload, str):
        if looks_like_card_number(payload):
            found.append(path)
    elif isinstance(payload, (int, float)) and not isinstance(payload, bool):
        number = int(payload) if isinstance(payload, float) and payload.is_integer() else payload
        if looks_like_card_number(str(number)):
            found.append(path)
    return found
