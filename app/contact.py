"""Phone numbers and US states: validated with well-kept data, shared by every feature."""

import phonenumbers

# The 50 states, DC and the inhabited territories (USPS codes). Military "states" (AA, AE, AP) are
# mail routes, not places a client can be.
US_STATES = frozenset(
    "AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND "
    "OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY DC AS GU MP PR VI".split()
)


def e164_phone(raw: str, *, region: str = "US") -> str:
    """A phone number in E.164 (`+14155550123`); national numbers are read as `region`'s."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise ValueError("not a phone number; send it in E.164 (+14155550123) or as a US number") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid phone number; send it in E.164 (+14155550123) or as a US number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def us_state(raw: str) -> str:
    code = raw.strip().upper()
    if code not in US_STATES:
        raise ValueError("not a US state or territory: use its two-letter USPS code, e.g. NY")
    return code
