"""The capability table of PRODUCT.md, walked cell by cell (rule R1).

The generated matrix over every HTTP route lives with the groups feature; this proves the table itself.
"""

import uuid

import pytest

from app.core.auth import Actor, GroupRole
from app.core.authz import CAPABILITIES, Capability, Reach, require
from app.core.errors import Problem

GROUP = uuid.uuid4()
ME = uuid.uuid4()
OTHER_PROVIDER = uuid.uuid4()

# The seed's table: (capability, provider column, admin column).
TABLE = [
    (Capability.CALENDAR, "own", "group"),
    (Capability.CLIENTS, "own", "group"),
    (Capability.MESSAGING, "own", "none"),
    (Capability.INSURANCE_STATUS, "own", "group"),
    (Capability.PROFILE, "own", "group"),
    (Capability.LOCATIONS, "own", "group"),
    (Capability.INTAKE_FORM, "own", "group"),
    (Capability.PAYMENTS, "none", "group"),
    (Capability.SEARCH_VISIBILITY, "none", "group"),
    (Capability.BOOKING_SETTINGS, "none", "group"),
    (Capability.BILLING_SETTINGS, "none", "group"),
    (Capability.ACCOUNT_SETTINGS, "none", "group"),
    (Capability.RATES, "none", "group"),
]


def actor(verified: bool = True, **role: bool) -> Actor:
    return Actor(kind="user", id=ME, memberships={GROUP: GroupRole(GROUP, "G", **role)}, email_verified=verified)


def outcome(who: Actor, capability: Capability, subject: uuid.UUID | None = None) -> str:
    try:
        return require(who, capability, GROUP, provider_user_id=subject).reach.value
    except Problem as problem:
        return str(problem.status)


@pytest.mark.parametrize(("capability", "provider", "admin"), TABLE)
def test_the_seed_table(capability: Capability, provider: str, admin: str) -> None:
    # rule R1 and the capability table
    as_provider = actor(is_provider=True)
    assert outcome(as_provider, capability) == ("403" if provider == "none" else provider)
    if provider == "own":
        assert outcome(as_provider, capability, subject=ME) == "own"
        assert outcome(as_provider, capability, subject=OTHER_PROVIDER) == "403"
    as_admin = actor(is_admin=True)
    assert outcome(as_admin, capability) == ("403" if admin == "none" else "group")
    # "The owner has every admin capability" (G2)
    assert outcome(actor(is_owner=True), capability) == ("403" if admin == "none" else "group")


def test_admin_who_also_provides_messages_only_their_own_clients() -> None:
    both = actor(is_admin=True, is_provider=True)
    assert outcome(both, Capability.MESSAGING, subject=ME) == "own"
    assert outcome(both, Capability.MESSAGING, subject=OTHER_PROVIDER) == "403"


def test_non_members_get_404_for_every_capability() -> None:
    stranger = Actor(kind="user", id=ME, memberships={})
    assert {outcome(stranger, capability) for capability in Capability} == {"404"}


def test_owner_only_capabilities() -> None:
    for capability in (Capability.PROVIDERS_ADD, Capability.ADMIN_GRANTS_DECIDE, Capability.OWNERSHIP_TRANSFER):
        assert outcome(actor(is_owner=True), capability) == "group"
        assert outcome(actor(is_admin=True, is_provider=True), capability) == "403"


def test_api_keys_act_as_admins_but_never_hand_out_access() -> None:
    key = Actor(kind="api_key", id=uuid.uuid4(), memberships={GROUP: GroupRole(GROUP, "G", via_api_key=True)})
    for capability, rule in CAPABILITIES.items():
        expected = rule.admin.value if rule.api_key and rule.admin is not Reach.NONE else "403"
        assert outcome(key, capability) == expected, capability
    assert outcome(key, Capability.API_KEYS) == "403"


@pytest.mark.parametrize("capability", [c for c, rule in CAPABILITIES.items() if rule.provider is Reach.NONE])
def test_unverified_owner_or_admin_holds_no_power(capability: Capability) -> None:
    # rule A9: money, access and settings need a verified email; the refusal says how to verify
    for role in ({"is_owner": True}, {"is_admin": True}, {"is_owner": True, "is_provider": True}):
        unverified = actor(verified=False, **role)
        granted = CAPABILITIES[capability]
        if granted.owner_only and not role.get("is_owner"):
            assert outcome(unverified, capability) == "403"
            continue
        try:
            require(unverified, capability, GROUP)
        except Problem as problem:
            assert (problem.status, problem.code) == (409, "email_unverified")
            assert "/v1/auth/resend-verification" in problem.detail
        else:
            raise AssertionError(f"{capability} allowed to an unverified account")
        assert outcome(actor(**role), capability) == "group"


def test_unverified_provider_keeps_their_own_work() -> None:
    # rule A9 touches power, not a provider's own calendar, clients or messages
    unverified = actor(verified=False, is_provider=True, is_owner=True)
    for capability in (Capability.CALENDAR, Capability.CLIENTS, Capability.MESSAGING, Capability.PROFILE):
        assert outcome(unverified, capability) in ("own", "group")
