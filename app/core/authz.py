"""What a caller may do: PRODUCT.md's capability table, in code, in one place.

`require()` is the only function that decides. Not being a member of the group is a 404 (R1: the API
never reveals that another group's object exists); being a member without the capability is a 403.
"""

import uuid
from dataclasses import dataclass, replace
from enum import Enum, StrEnum

from app.core.auth import Actor, GroupRole
from app.core.errors import Problem, forbidden, not_found


class Reach(Enum):
    NONE = "none"
    OWN = "own"  # the provider's own work: their calendar, roster, profile...
    GROUP = "group"  # every provider's work in the group


class Capability(StrEnum):
    # PRODUCT.md "What each role may do": provider (own work) / admin (whole group).
    CALENDAR = "calendar"
    CLIENTS = "clients"
    MESSAGING = "messaging"
    INSURANCE_STATUS = "insurance_status"
    PROFILE = "profile"
    LOCATIONS = "locations"
    INTAKE_FORM = "intake_form"
    PAYMENTS = "payments"
    SEARCH_VISIBILITY = "search_visibility"
    BOOKING_SETTINGS = "booking_settings"
    BILLING_SETTINGS = "billing_settings"
    ACCOUNT_SETTINGS = "account_settings"
    RATES = "rates"
    # Group administration (G2-G6, A3), beyond the seed's table.
    MEMBERS_READ = "members_read"
    GROUP_EDIT = "group_edit"
    ADMIN_GRANTS_REQUEST = "admin_grants_request"
    ADMIN_GRANTS_DECIDE = "admin_grants_decide"
    PROVIDERS_ADD = "providers_add"
    PROVIDERS_REMOVE = "providers_remove"
    OWNERSHIP_TRANSFER = "ownership_transfer"
    API_KEYS = "api_keys"
    BANK_ACCOUNT_CONFIRM = "bank_account_confirm"  # P8: a new payout account takes the owner's confirmation
    # R3: reading the group's audit log (who read or changed what, refused attempts).
    AUDIT_LOG = "audit_log"
    # X3: the group's webhook endpoints and their delivery logs.
    WEBHOOKS = "webhooks"


@dataclass(frozen=True, slots=True)
class Rule:
    provider: Reach
    admin: Reach
    owner_only: bool = False
    # Partner API keys act for the whole group on admin capabilities, except those that hand out access.
    api_key: bool = True


_OWN_OR_GROUP = Rule(provider=Reach.OWN, admin=Reach.GROUP)
_ADMIN = Rule(provider=Reach.NONE, admin=Reach.GROUP)
_ADMIN_NO_KEY = Rule(provider=Reach.NONE, admin=Reach.GROUP, api_key=False)
_OWNER = Rule(provider=Reach.NONE, admin=Reach.NONE, owner_only=True, api_key=False)

CAPABILITIES: dict[Capability, Rule] = {
    Capability.CALENDAR: _OWN_OR_GROUP,
    Capability.CLIENTS: _OWN_OR_GROUP,
    # Messages are between a provider and a client: admins never read them, nor do integrations.
    Capability.MESSAGING: Rule(provider=Reach.OWN, admin=Reach.NONE, api_key=False),
    Capability.INSURANCE_STATUS: _OWN_OR_GROUP,
    Capability.PROFILE: _OWN_OR_GROUP,
    Capability.LOCATIONS: _OWN_OR_GROUP,
    Capability.INTAKE_FORM: _OWN_OR_GROUP,
    Capability.PAYMENTS: _ADMIN,
    Capability.SEARCH_VISIBILITY: _ADMIN,
    Capability.BOOKING_SETTINGS: _ADMIN,
    Capability.BILLING_SETTINGS: _ADMIN_NO_KEY,
    Capability.ACCOUNT_SETTINGS: _ADMIN,
    Capability.RATES: _ADMIN,
    Capability.MEMBERS_READ: Rule(provider=Reach.GROUP, admin=Reach.GROUP),
    Capability.GROUP_EDIT: _ADMIN_NO_KEY,
    Capability.ADMIN_GRANTS_REQUEST: _ADMIN_NO_KEY,
    Capability.ADMIN_GRANTS_DECIDE: _OWNER,
    Capability.PROVIDERS_ADD: _OWNER,
    Capability.PROVIDERS_REMOVE: _ADMIN_NO_KEY,
    Capability.OWNERSHIP_TRANSFER: _OWNER,
    Capability.API_KEYS: _ADMIN_NO_KEY,
    Capability.BANK_ACCOUNT_CONFIRM: _OWNER,
    # Admins and the owner; a partner key too (it reads, hands out no access: compliance exports).
    Capability.AUDIT_LOG: _ADMIN,
    # Admins and the owner, and partner keys (an integration registers where it is told what happened).
    Capability.WEBHOOKS: _ADMIN,
}


@dataclass(frozen=True, slots=True)
class Grant:
    """What `require` allowed: services filter by `reach` (OWN: only `actor`'s own work, in SQL)."""

    group_id: uuid.UUID
    reach: Reach
    role: GroupRole
    actor: Actor


def membership(actor: Actor, group_id: uuid.UUID) -> GroupRole:
    role = actor.memberships.get(group_id)
    if role is None:
        raise not_found("group")
    return role


def reach(role: GroupRole, rule: Rule) -> Reach:
    if role.via_api_key:
        return rule.admin if rule.api_key else Reach.NONE
    if rule.owner_only:
        return Reach.GROUP if role.is_owner else Reach.NONE
    if (role.is_owner or role.is_admin) and rule.admin is not Reach.NONE:
        return rule.admin
    if role.is_provider:
        return rule.provider
    return Reach.NONE


def email_unverified() -> Problem:
    return Problem(
        409,
        "email_unverified",
        "Verify your email address before acting as an owner or admin: follow the link we mailed you, or ask for "
        "a new one with POST /v1/auth/resend-verification.",
    )


def require_verified(actor: Actor) -> None:
    """A9: power (money, access, settings, creating a group) needs an account whose email is verified.

    A stolen or mistyped sign-up must not be able to receive payouts or hand out access. API keys are
    created by a verified admin and act for the group, so they pass.
    """
    if actor.kind == "user" and not actor.email_verified:
        raise email_unverified()


def require(
    actor: Actor, capability: Capability, group_id: uuid.UUID, *, provider_user_id: uuid.UUID | None = None
) -> Grant:
    """Allow `capability` in the group, optionally on work belonging to `provider_user_id`."""
    role = membership(actor, group_id)
    rule = CAPABILITIES[capability]
    granted = reach(role, rule)
    if role.via_api_key and granted is not Reach.NONE and role.key_scopes is not None:
        _require_key_scope(actor, role, capability)
    if _admin_gate_closed(actor, role):
        granted = _without_admin_rights(actor, role, capability, granted, provider_user_id)
    if granted is Reach.NONE or (
        granted is Reach.OWN and provider_user_id is not None and provider_user_id != actor.user_id
    ):
        raise forbidden(capability)
    # A9: the admin-only capabilities are the owner's and admins' power over money, access and settings.
    if rule.provider is Reach.NONE:
        require_verified(actor)
    return Grant(group_id=group_id, reach=granted, role=role, actor=actor)


READ_SCOPE = "read"


def key_may_hold(capability: Capability) -> bool:
    """What an API key can ever be given: the group-wide capabilities that hand out no access."""
    rule = CAPABILITIES[capability]
    return rule.api_key and rule.admin is Reach.GROUP


def _require_key_scope(actor: Actor, role: GroupRole, capability: Capability) -> None:
    """X7: a key does what its scopes name (`read`: any GET its kind of key may make), and never more than
    the person who created it may do today: a creator removed from the group, no longer its owner or an
    admin, or kept from admin powers by the group's two-factor requirement, takes the key's rights with them."""
    scopes = role.key_scopes or frozenset()
    if capability not in scopes and not (READ_SCOPE in scopes and not actor.writes):
        named = ", ".join(sorted(scopes)) or "none"
        raise Problem(
            403,
            "insufficient_scope",
            f"This API key's scopes ({named}) do not include '{capability}'. Ask an admin for a key with the "
            f"'{capability}' scope.",
            capability=str(capability),
        )
    if not role.creator_is_admin:
        raise Problem(
            403,
            "key_creator_lacks_rights",
            "The person who created this API key no longer has admin rights in the group (removed, no longer an "
            "admin, or without the two-factor sign-in the group requires of admins), so the key has lost its "
            "rights. The creator can restore them, or a current admin can create a new key and revoke this one.",
            capability=str(capability),
        )


def _admin_gate_closed(actor: Actor, role: GroupRole) -> bool:
    """A6: the group requires two-factor of its owner and admins, and this one has not enrolled."""
    return role.admins_need_two_factor and (role.is_owner or role.is_admin) and not actor.two_factor


def _without_admin_rights(
    actor: Actor, role: GroupRole, capability: Capability, granted: Reach, provider_user_id: uuid.UUID | None
) -> Reach:
    """What the role reaches as a provider alone; a 403 saying how to enrol when the admin part was needed."""
    as_provider = reach(replace(role, is_owner=False, is_admin=False), CAPABILITIES[capability])
    if as_provider is not Reach.NONE and not (
        as_provider is Reach.OWN and provider_user_id is not None and provider_user_id != actor.user_id
    ):
        return as_provider
    if granted is Reach.NONE:
        return granted  # not allowed even with two-factor: the ordinary 403
    raise Problem(
        403,
        "two_factor_required",
        "This practice requires two-factor sign-in of its owner and admins. Enrol with POST /v1/me/two-factor, "
        "confirm it with a first code (POST /v1/me/two-factor/confirm); this login then has its admin rights.",
        capability=str(capability),
    )
