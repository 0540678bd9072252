"""Practice settings: the admin column of the capability table (search visibility, booking, account
settings, billing settings, rates), and the staff's identity-verification decision.

Every setting belongs to exactly one capability (`FIELD_CAPABILITIES`); a change needs the capability
of each field it touches. Secrets (account number, tax id, date of birth) are encrypted before they
reach the database and never leave it whole: responses and the audit log carry their last four at most.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import (
    Select,
    and_,
    bindparam,
    delete,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import get_settings
from app.core import audit, crypto, tokens
from app.core.auth import Actor
from app.core.authz import Capability, require
from app.core.errors import Problem, conflict, not_found
from app.core.mail import send_mail
from app.models import (
    BankAccount,
    BankAccountChange,
    CancellationPolicy,
    Group,
    IdentityVerification,
    Membership,
    Rate,
    User,
)
from app.practice import validation
from app.practice.schemas import (
    BankAccountIn,
    BookingPreferences,
    CancellationPolicyIn,
    IdentityDecisionIn,
    IdentityVerificationIn,
    RateIn,
    SettingsPatch,
)

# Bound into each ciphertext (core/crypto.py): a value copied into another column does not decrypt.
BANK_ACCOUNT_NUMBER = "bank_account_number"
TAX_ID = "tax_id"
DATE_OF_BIRTH = "date_of_birth"

# Reading the settings page (and so the result of a change) is for any admin; see read_settings.
SETTINGS_READ = Capability.ACCOUNT_SETTINGS
FIELD_CAPABILITIES: dict[str, Capability] = {
    "shown_in_search": Capability.SEARCH_VISIBILITY,
    "intake_session_minutes": Capability.BOOKING_SETTINGS,
    "session_reminder_hours": Capability.BOOKING_SETTINGS,
    "client_age_min": Capability.BOOKING_SETTINGS,
    "client_age_max": Capability.BOOKING_SETTINGS,
    "booking_preferences": Capability.BOOKING_SETTINGS,
    "contact_email": Capability.ACCOUNT_SETTINGS,
    "contact_phone": Capability.ACCOUNT_SETTINGS,
    "cancellation_policy": Capability.BILLING_SETTINGS,
    # A6: who must enrol in two-factor is access control: never a partner key's decision.
    "require_two_factor_for_admins": Capability.GROUP_EDIT,
}
MAX_UPCOMING_POLICIES = 50


def _invalid(*errors: tuple[str, str]) -> Problem:
    """A 422 shaped like the request validator's, for checks that need the database."""
    return Problem(
        422,
        "validation_failed",
        "Some fields are missing or invalid; see `errors`.",
        title="Unprocessable Content",
        errors=[{"field": field, "message": message} for field, message in errors],
    )


def _holds(actor: Actor, capability: Capability, group_id: uuid.UUID) -> bool:
    """Whether `require` allows `capability` (a member without it: False; a non-member: 404 as ever)."""
    try:
        require(actor, capability, group_id)
    except Problem as refused:
        if refused.status == 403:
            return False
        raise
    return True


def _now() -> datetime:
    # The wall clock, not the transaction's start: versions made in one transaction stay ordered.
    return datetime.now(UTC)


# --- settings -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SettingsView:
    group: Group
    cancellation_policy: CancellationPolicy | None
    upcoming_cancellation_policies: list[CancellationPolicy]
    bank_account: BankAccount | None
    identity_verification: IdentityVerification | None
    pending_bank_account: BankAccountChange | None = None


async def read_settings(db: AsyncSession, actor: Actor, group_id: uuid.UUID) -> SettingsView:
    """Any admin reads the settings; the bank account and identity summaries need billing settings too."""
    require(actor, SETTINGS_READ, group_id)
    group = await db.scalar(select(Group).where(Group.id == group_id))
    if group is None:
        raise not_found("group")
    return await _settings_view(db, actor, group)


async def update_settings(db: AsyncSession, actor: Actor, group_id: uuid.UUID, changes: SettingsPatch) -> SettingsView:
    fields = changes.model_fields_set
    # Every capability is checked before anything changes: a PATCH touching two areas needs both.
    require(actor, SETTINGS_READ, group_id)
    for capability in sorted({FIELD_CAPABILITIES[field] for field in fields}):
        require(actor, capability, group_id)
    # Locked: concurrent changes (booking preferences are merged, policies ordered) run one after the other.
    group = await db.scalar(select(Group).where(Group.id == group_id).with_for_update())
    if group is None:
        raise not_found("group")

    values = changes.model_dump(include=fields - {"booking_preferences", "cancellation_policy"})
    if values.get("require_two_factor_for_admins") and not actor.two_factor:
        # A6: turning it on without two-factor would lock the caller out of the switch itself.
        raise Problem(
            409,
            "enrol_two_factor_first",
            "Turn on two-factor sign-in for yourself first (POST /v1/me/two-factor, then .../confirm), then require it of admins.",
        )
    if "booking_preferences" in fields:
        stored = BookingPreferences.model_validate(group.booking_preferences or {})
        values["booking_preferences"] = stored.model_copy(
            update=changes.booking_preferences.model_dump(exclude_unset=True)
        ).model_dump()
    age_min = values.get("client_age_min", group.client_age_min)
    age_max = values.get("client_age_max", group.client_age_max)
    if age_min is not None and age_max is not None and age_min > age_max:
        field = "client_age_min" if "client_age_min" in fields else "client_age_max"
        raise _invalid((f"body.{field}", f"the age range would be {age_min} to {age_max}: the minimum must not exceed the maximum"))

    policy = None
    if "cancellation_policy" in fields:
        policy = _new_cancellation_policy(actor, group, changes.cancellation_policy)
    if values:
        for name, value in values.items():
            setattr(group, name, value)
        await db.flush()
        await audit.record(
            db, actor, "group_settings.updated", target_type="group", target_id=group_id, group_id=group_id,
            fields=sorted(values),
        )
    if policy is not None:
        db.add(policy)
        await db.flush()
        await audit.record(
            db, actor, "cancellation_policy.created", target_type="cancellation_policy", target_id=policy.id,
            group_id=group_id, fields=sorted(changes.cancellation_policy.model_fields_set),
        )
    return await _settings_view(db, actor, group)


def _new_cancellation_policy(actor: Actor, group: Group, policy: CancellationPolicyIn) -> CancellationPolicy:
    moment = _now()
    today = validation.local_today(group.time_zone, now=moment)
    if policy.effective_from < today:
        raise _invalid(
            (
                "body.cancellation_policy.effective_from",
                (
                    f"is in the past: today is {today.isoformat()} in the group's time zone ({group.time_zone}); "
                    "choose today or a later day"
                ),
            )
        )
    # Today means from now on: sessions booked earlier today keep the version they were booked under.
    starts = max(validation.local_midnight(policy.effective_from, group.time_zone), moment)
    return CancellationPolicy(
        id=uuid.uuid4(),
        group_id=group.id,
        window_hours=policy.window_hours,
        fee_cents=policy.fee_cents,
        currency="USD",
        effective_from=starts,
        created_at=moment,
        created_by_user_id=actor.user_id,
    )


async def _settings_view(db: AsyncSession, actor: Actor, group: Group) -> SettingsView:
    moment = _now()
    billing = _holds(actor, Capability.BILLING_SETTINGS, group.id)
    bank = await bank_account_state(db, group.id) if billing else BankAccountState(None, None)
    identity = (
        await db.scalar(select(IdentityVerification).where(IdentityVerification.group_id == group.id)) if billing else None
    )
    return SettingsView(
        group=group,
        cancellation_policy=await cancellation_policy_at(db, group.id, moment),
        upcoming_cancellation_policies=await upcoming_cancellation_policies(db, group.id, moment),
        bank_account=bank.in_force,
        identity_verification=identity,
        pending_bank_account=bank.pending,
    )


# The policy is a timeline: the version in force at an instant is the one with the latest start at or
# before it; of two versions with the same start, the one made later (a correction). Scheduled versions
# stay scheduled until another version is made for the same day. A start is never in the past, so
# versions made later never change which version applied at an earlier instant (S4 looks that up).


async def cancellation_policy_at(db: AsyncSession, group_id: uuid.UUID, at: datetime) -> CancellationPolicy | None:
    """The version of the group's cancellation policy in force at `at` (e.g. when a session was booked)."""
    return await db.scalar(
        select(CancellationPolicy)
        .where(CancellationPolicy.group_id == group_id, CancellationPolicy.effective_from <= at)
        .order_by(CancellationPolicy.effective_from.desc(), CancellationPolicy.created_at.desc())
        .limit(1)
    )


async def upcoming_cancellation_policies(
    db: AsyncSession, group_id: uuid.UUID, after: datetime
) -> list[CancellationPolicy]:
    """Versions that take effect after `after`, soonest first (one per start: the latest made)."""
    rows = await db.scalars(
        select(CancellationPolicy)
        .where(CancellationPolicy.group_id == group_id, CancellationPolicy.effective_from > after)
        .ext(distinct_on(CancellationPolicy.effective_from))
        .order_by(CancellationPolicy.effective_from, CancellationPolicy.created_at.desc())
        .limit(MAX_UPCOMING_POLICIES)
    )
    return list(rows)


# --- rates ----------------------------------------------------------------------------------------


def _rate_card_query(group_id: uuid.UUID) -> Select[tuple[Rate]]:
    return (
        select(Rate)
        .where(Rate.group_id == group_id)
        .order_by(Rate.provider_user_id.is_not(None), Rate.provider_user_id, Rate.service_code)
    )


async def read_rates(db: AsyncSession, actor: Actor, group_id: uuid.UUID) -> list[Rate]:
    require(actor, Capability.RATES, group_id)
    return list(await db.scalars(_rate_card_query(group_id)))


async def replace_rates(db: AsyncSession, actor: Actor, group_id: uuid.UUID, rates: list[RateIn]) -> list[Rate]:
    """The whole card in one transaction: rows not sent are removed, changed ones updated, new ones added."""
    require(actor, Capability.RATES, group_id)
    keys = [(rate.provider_user_id, rate.service_code) for rate in rates]
    repeated = validation.duplicates(keys)
    if repeated:
        raise _invalid(
            *(
                (
                    f"body.rates.{position}",
                    (
                        f"repeats rates.{positions[0]}: one rate per provider_user_id and service_code "
                        f"({provider or 'group default'}, {code})"
                    ),
                )
                for (provider, code), positions in repeated.items()
                for position in positions[1:]
            )
        )
    named = {rate.provider_user_id for rate in rates if rate.provider_user_id is not None}
    if named:
        active = set(
            await db.scalars(
                select(Membership.user_id).where(
                    Membership.group_id == group_id,
                    Membership.user_id.in_(named),
                    Membership.is_provider,
                    Membership.ended_at.is_(None),
                )
            )
        )
        unknown = [i for i, rate in enumerate(rates) if rate.provider_user_id is not None and rate.provider_user_id not in active]
        if unknown:
            raise _invalid(
                *((f"body.rates.{i}.provider_user_id", "is not an active provider of this group") for i in unknown)
            )

    # One replacement at a time per group: each diffs against what the previous one left.
    await db.execute(select(Group.id).where(Group.id == group_id).with_for_update())
    existing = {(rate.provider_user_id, rate.service_code): rate for rate in await db.scalars(_rate_card_query(group_id))}
    wanted = dict(zip(keys, rates))
    removed = [existing[key].id for key in existing.keys() - wanted.keys()]
    added = [wanted[key] for key in wanted.keys() - existing.keys()]
    changed = [
        {"rate_id": existing[key].id, "private_pay": wanted[key].private_pay_cents, "insurance": wanted[key].insurance_cents}
        for key in wanted.keys() & existing.keys()
        if (existing[key].private_pay_cents, existing[key].insurance_cents)
        != (wanted[key].private_pay_cents, wanted[key].insurance_cents)
    ]
    if removed:
        await db.execute(delete(Rate).where(Rate.group_id == group_id, Rate.id.in_(removed)))
    if added:
        await db.execute(
            insert(Rate),
            [
                {
                    "id": uuid.uuid4(),
                    "group_id": group_id,
                    "provider_user_id": rate.provider_user_id,
                    "service_code": rate.service_code,
                    "private_pay_cents": rate.private_pay_cents,
                    "insurance_cents": rate.insurance_cents,
                }
                for rate in added
            ],
        )
    if changed:
        table = Rate.__table__
        await db.execute(
            update(table)
            .where(table.c.id == bindparam("rate_id"))
            .values(
                private_pay_cents=bindparam("private_pay"),
                insurance_cents=bindparam("insurance"),
                updated_at=datetime.now(UTC),
            ),
            changed,
        )
    await audit.record(
        db, actor, "rates.replaced", target_type="rate_card", target_id=group_id, group_id=group_id,
        added=len(added), changed=len(changed), removed=len(removed),
    )
    return list(await db.scalars(_rate_card_query(group_id), execution_options={"populate_existing": True}))


async def rate_for(db: AsyncSession, group_id: uuid.UUID, provider_user_id: uuid.UUID | None, service_code: str) -> Rate | None:
    """The rate a session pays (P6, C6): the provider's own for the code, else the group's default."""
    return await db.scalar(
        select(Rate)
        .where(
            Rate.group_id == group_id,
            Rate.service_code == service_code.upper(),
            or_(Rate.provider_user_id.is_(None), Rate.provider_user_id == provider_user_id)
            if provider_user_id is not None
            else Rate.provider_user_id.is_(None),
        )
        .order_by(Rate.provider_user_id.is_(None))  # false (the override) sorts first
        .limit(1)
    )


# --- bank account ---------------------------------------------------------------------------------


BANK_CONFIRMATION_PREFIX = "cbc_"  # a mailed bank-account confirmation link's secret (core/tokens.py)
BANK_CONFIRMATION_HOURS = 72
PENDING = "pending_owner_confirmation"


@dataclass(frozen=True, slots=True)
class BankAccountState:
    in_force: BankAccount | None
    pending: BankAccountChange | None


async def bank_account_state(db: AsyncSession, group_id: uuid.UUID) -> BankAccountState:
    in_force = await db.scalar(select(BankAccount).where(BankAccount.group_id == group_id))
    pending = await db.scalar(
        select(BankAccountChange).where(BankAccountChange.group_id == group_id, BankAccountChange.status == PENDING)
    )
    return BankAccountState(in_force, pending)


async def _owner(db: AsyncSession, group_id: uuid.UUID) -> tuple[User, str]:
    row = (
        await db.execute(
            select(User, Group.name)
            .join(Membership, Membership.user_id == User.id)
            .join(Group, Group.id == Membership.group_id)
            .where(Membership.group_id == group_id, Membership.is_owner, Membership.ended_at.is_(None))
        )
    ).one()
    return row[0], row[1]


def _who(actor: Actor) -> str:
    name = f"{actor.first_name or ''} {actor.last_name or ''}".strip()
    return f"{name} <{actor.email}>" if name else (actor.email or "someone")


async def set_bank_account(db: AsyncSession, actor: Actor, group_id: uuid.UUID, account: BankAccountIn) -> BankAccountChange:
    """P1, P8: a new payout account, held until the owner confirms it through a mailed single-use link.

    The account in force keeps receiving payouts until then: an admin's account taken over, or a typo, must
    not redirect the practice's money. A change that was still waiting is superseded by this one.
    """
    require(actor, Capability.BILLING_SETTINGS, group_id)
    now = _now()
    # Two changes at once queue on the group's row (FOR NO KEY UPDATE: rows referencing the group are not
    # blocked), so the second supersedes the first instead of colliding with it on the one-waiting index.
    await db.execute(select(Group.id).where(Group.id == group_id).with_for_update(key_share=True))
    superseded = list(
        await db.scalars(
            update(BankAccountChange)
            .where(BankAccountChange.group_id == group_id, BankAccountChange.status == PENDING)
            .values(status="superseded", decided_at=now)
            .returning(BankAccountChange.id)
        )
    )
    secret = tokens.new_secret(BANK_CONFIRMATION_PREFIX)
    change = BankAccountChange(
        id=uuid.uuid4(),
        group_id=group_id,
        account_holder_name=account.account_holder_name,
        routing_number=account.routing_number,
        account_number_encrypted=crypto.encrypt(account.account_number, purpose=BANK_ACCOUNT_NUMBER),
        account_last4=crypto.last4(account.account_number),
        account_type=account.account_type,
        status=PENDING,
        token_hash=tokens.digest(secret),
        expires_at=now + timedelta(hours=BANK_CONFIRMATION_HOURS),
        requested_at=now,
        requested_by_user_id=actor.user_id,
    )
    db.add(change)
    await db.flush()
    in_force = await db.scalar(select(BankAccount.account_last4).where(BankAccount.group_id == group_id))
    owner, group_name = await _owner(db, group_id)
    base = f"{get_settings().public_url}/v1/groups/{group_id}/bank-account"
    current = (
        f"Until you confirm, payouts keep going to the account ending in {in_force}."
        if in_force else "Until you confirm, payouts wait: the practice has no confirmed account yet."
    )
    await send_mail(
        db,
        to=owner.email,
        subject=f"Confirm the new payout bank account of {group_name}",
        body=(
            f"Hello {owner.first_name},\n\n{_who(actor)} asked that the payouts of {group_name} go to the "
            f"{account.account_type} account ending in {change.account_last4} (routing number {account.routing_number}).\n\n"
            f"{current}\n\nTo confirm it, log in as the practice's owner and open:\n\n"
            f"{get_settings().public_url}/confirm-bank-account?group={group_id}&token={secret}\n\n"
            f"(or POST {base}/confirm with this token: {secret}).\n\n"
            f"If you did not expect this, refuse it: POST {base}/refuse with the same token, or simply do not confirm; "
            f"the link expires in {BANK_CONFIRMATION_HOURS} hours and nothing changes. Then check who has admin "
            "rights in your practice.\n"
        ),
        template="bank_account_confirm",
    )
    await audit.record(
        db, actor, "bank_account.change_requested", target_type="bank_account", target_id=group_id, group_id=group_id,
        change_id=str(change.id), fields=sorted(BankAccountIn.model_fields), replaced=in_force is not None,
        superseded=[str(i) for i in superseded],
    )
    return change


async def _waiting_change(
    db: AsyncSession, actor: Actor, group_id: uuid.UUID, secret: str
) -> BankAccountChange:
    require(actor, Capability.BANK_ACCOUNT_CONFIRM, group_id)
    change = await db.scalar(
        select(BankAccountChange)
        .where(BankAccountChange.group_id == group_id, BankAccountChange.token_hash == tokens.digest(secret))
        .with_for_update()
    )
    if change is None:
        raise Problem(404, "bank_confirmation_unknown",
                      "This confirmation link is not valid for this practice. Use the latest link mailed to the owner.")
    if change.status != PENDING:
        raise conflict("bank_confirmation_used",
                       f"This change was already {change.status.replace('_', ' ')}. Set the account again to get a new link.",
                       change_status=change.status)
    if change.expires_at <= _now():
        raise Problem(410, "bank_confirmation_expired",
                      "This confirmation link has expired. Set the bank account again (PUT .../bank-account) to get a new one.")
    return change


async def confirm_bank_account(db: AsyncSession, actor: Actor, group_id: uuid.UUID, secret: str) -> BankAccount:
    """P8: the owner confirms the waiting change with the mailed token; from now on payouts go to it."""
    change = await _waiting_change(db, actor, group_id, secret)
    now = _now()
    values = {
        "account_holder_name": change.account_holder_name,
        "routing_number": change.routing_number,
        "account_number_encrypted": change.account_number_encrypted,
        "account_last4": change.account_last4,
        "account_type": change.account_type,
        "updated_by_user_id": change.requested_by_user_id,
        "updated_at": now,
        "confirmed_at": now,
    }
    replaced = await db.scalar(select(BankAccount.account_last4).where(BankAccount.group_id == group_id))
    stored = await db.scalar(
        pg_insert(BankAccount)
        .values(group_id=group_id, **values)
        .on_conflict_do_update(index_elements=[BankAccount.group_id], set_=values)
        .returning(BankAccount),
        execution_options={"populate_existing": True},
    )
    assert stored is not None
    change.status, change.decided_at, change.decided_by_user_id = "confirmed", now, actor.user_id
    await db.flush()
    await audit.record(
        db, actor, "bank_account.confirmed", target_type="bank_account", target_id=group_id, group_id=group_id,
        change_id=str(change.id), replaced=replaced is not None,
    )
    await _mail_decision(db, group_id, f"The payout account ending in {change.account_last4} is now in force"
                         + (f" (it replaces the one ending in {replaced})." if replaced else "."))
    return stored


async def refuse_bank_account(db: AsyncSession, actor: Actor, group_id: uuid.UUID, secret: str) -> BankAccountChange:
    """P8: the owner refuses the waiting change; the account in force stays."""
    change = await _waiting_change(db, actor, group_id, secret)
    change.status, change.decided_at, change.decided_by_user_id = "refused", _now(), actor.user_id
    await db.flush()
    await audit.record(
        db, actor, "bank_account.change_refused", target_type="bank_account", target_id=group_id, group_id=group_id,
        change_id=str(change.id),
    )
    await _mail_decision(db, group_id, f"The change to the account ending in {change.account_last4} was refused; "
                         "nothing changed.")
    return change


async def _mail_decision(db: AsyncSession, group_id: uuid.UUID, what: str) -> None:
    owner, group_name = await _owner(db, group_id)
    await send_mail(
        db, to=owner.email, subject=f"Payout bank account of {group_name}",
        body=f"Hello {owner.first_name},\n\n{what}\n", template="bank_account_decided",
    )


# --- identity verification ------------------------------------------------------------------------


async def read_identity_verification(db: AsyncSession, actor: Actor, group_id: uuid.UUID) -> IdentityVerification | None:
    require(actor, Capability.BILLING_SETTINGS, group_id)
    return await db.scalar(select(IdentityVerification).where(IdentityVerification.group_id == group_id))


async def submit_identity_verification(
    db: AsyncSession, actor: Actor, group_id: uuid.UUID, identity: IdentityVerificationIn
) -> IdentityVerification:
    """P2: the tax identity payouts are under. Any submission, even over a verified one, waits for staff again."""
    require(actor, Capability.BILLING_SETTINGS, group_id)
    previous = await db.scalar(
        select(IdentityVerification.status).where(IdentityVerification.group_id == group_id).with_for_update()
    )
    values = {
        "legal_name": identity.legal_name,
        "date_of_birth_encrypted": crypto.encrypt(identity.date_of_birth.isoformat(), purpose=DATE_OF_BIRTH),
        "tax_id_encrypted": crypto.encrypt(identity.tax_id, purpose=TAX_ID),
        "tax_id_last4": crypto.last4(identity.tax_id),
        "status": "pending",
        "submitted_at": datetime.now(UTC),
        "submitted_by_user_id": actor.user_id,
        "decided_at": None,
        "decided_by_user_id": None,
        "rejection_reason": None,
    }
    stored = await db.scalar(
        pg_insert(IdentityVerification)
        .values(group_id=group_id, **values)
        .on_conflict_do_update(index_elements=[IdentityVerification.group_id], set_=values)
        .returning(IdentityVerification),
        execution_options={"populate_existing": True},
    )
    assert stored is not None
    await audit.record(
        db, actor, "identity_verification.submitted", target_type="identity_verification", target_id=group_id,
        group_id=group_id, fields=sorted(IdentityVerificationIn.model_fields), previous_status=previous,
    )
    return stored


async def decide_identity_verification(
    db: AsyncSession, staff: Actor, group_id: uuid.UUID, decision: IdentityDecisionIn
) -> IdentityVerification:
    """Staff verify or reject a pending submission. `staff` was admitted by `StaffActor` (A4: a platform role)."""
    record = await db.scalar(
        select(IdentityVerification).where(IdentityVerification.group_id == group_id).with_for_update()
    )
    if record is None:
        raise not_found("identity verification")
    if record.status != "pending":
        raise conflict(
            "identity_verification_not_pending",
            f"This identity verification is already {record.status}; only a pending submission can be decided. "
            "A new submission by the group makes it pending again.",
            current_status=record.status,
        )
    decided = await db.scalar(
        update(IdentityVerification)
        .where(and_(IdentityVerification.group_id == group_id, IdentityVerification.status == "pending"))
        .values(
            status=decision.decision,
            decided_at=datetime.now(UTC),
            decided_by_user_id=staff.user_id,
            rejection_reason=decision.reason if decision.decision == "rejected" else None,
        )
        .returning(IdentityVerification),
        execution_options={"populate_existing": True},
    )
    assert decided is not None
    await audit.record(
        db, staff, f"identity_verification.{decision.decision}", target_type="identity_verification",
        target_id=group_id, group_id=group_id,
    )
    return decided
