"""A client's own onboarding (C3, C4): insurance, a form of billing, the acknowledged forms, and the
readiness checklist of every group they are a client of.

These belong to the person, not to a group: they are entered once through /v1/me and count for every
group. Secrets (member id, date of birth) are encrypted before they reach the database; responses show
the member id's last four at most, and the audit log carries field names only (R2, DESIGN 8).
"""

import ipaddress
import uuid
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.clients import readiness
from app.clients.readiness import ChecklistItem
from app.clients.readiness_loader import PersonFacts, facts_for, person_facts
from app.core import audit, crypto
from app.core.auth import Actor
from app.core.errors import Problem, conflict
from app.core.middleware import current_request
from app.core.pagination import PageParams, paginate
from app.models import Acknowledgement, BillingMethod, Client, Group, InsurancePolicy, PracticeInsurance
from app.onboarding import card_numbers
from app.onboarding.schemas import AcknowledgementIn, BillingMethodIn, InsurancePolicyIn

# Bound into each ciphertext (core/crypto.py): a value copied into another column does not decrypt.
MEMBER_ID = "insurance_member_id"
DATE_OF_BIRTH = "insurance_date_of_birth"


def _person(actor: Actor) -> uuid.UUID:
    # PersonActor admits people only; an API key never reaches these services.
    assert actor.user_id is not None
    return actor.user_id


def shown_suffix(member_id: str) -> str:
    """The member id's last four characters, but never more than half of it: a short id is not shown whole."""
    characters = [c for c in member_id if c.isalnum()]
    return "".join(characters[len(characters) - min(4, len(characters) // 2) :])


# --- insurance ------------------------------------------------------------------------------------


def insurance_not_on_file() -> Problem:
    return Problem(404, "insurance_not_on_file", "No insurance is on file for you. Add it with PUT /v1/me/insurance.")


async def read_insurance(db: AsyncSession, actor: Actor) -> InsurancePolicy:
    user_id = _person(actor)
    policy = await db.scalar(select(InsurancePolicy).where(InsurancePolicy.user_id == user_id))
    if policy is None:
        raise insurance_not_on_file()
    # R2: a person reading their own insurance is a read of PHI like any other.
    await audit.record(db, actor, "insurance.read", target_type="insurance_policy", target_id=user_id)
    return policy


def _changed_fields(stored: InsurancePolicy | None, policy: InsurancePolicyIn) -> list[str]:
    """The API's names of the fields this PUT changes (every field sent, for a first policy)."""
    if stored is None:
        return sorted(name for name, value in policy.model_dump().items() if value is not None)
    stored_dob = (
        crypto.decrypt(stored.date_of_birth_encrypted, purpose=DATE_OF_BIRTH) if stored.date_of_birth_encrypted else None
    )
    comparisons = {
        "company": (stored.company, policy.company),
        "member_id": (crypto.decrypt(stored.member_id_encrypted, purpose=MEMBER_ID), policy.member_id),
        "date_of_birth": (stored_dob, policy.date_of_birth.isoformat() if policy.date_of_birth else None),
        "copay_cents": (stored.copay_cents, policy.copay_cents),
        "coinsurance_percent": (stored.coinsurance_bp, policy.coinsurance_bp),
    }
    return sorted(name for name, (before, after) in comparisons.items() if before != after)


def _policy_values(policy: InsurancePolicyIn) -> dict[str, object]:
    return {
        "company": policy.company,
        "member_id_encrypted": crypto.encrypt(policy.member_id, purpose=MEMBER_ID),
        "member_id_last4": shown_suffix(policy.member_id),
        "date_of_birth_encrypted": (
            crypto.encrypt(policy.date_of_birth.isoformat(), purpose=DATE_OF_BIRTH) if policy.date_of_birth else None
        ),
        "copay_cents": policy.copay_cents,
        "coinsurance_bp": policy.coinsurance_bp,
        "status": "on_file",
        "updated_at": func.now(),
    }


async def save_practice_policy(db: AsyncSession, client_id: uuid.UUID, policy: InsurancePolicyIn) -> PracticeInsurance:
    """A practice's own copy of its client's policy (C8), encrypted like the person's own."""
    values = _policy_values(policy)
    saved = await db.scalar(
        pg_insert(PracticeInsurance)
        .values(client_id=client_id, **values)
        .on_conflict_do_update(index_elements=[PracticeInsurance.client_id], set_=values)
        .returning(PracticeInsurance),
        execution_options={"populate_existing": True},
    )
    assert saved is not None
    return saved


async def save_policy(db: AsyncSession, user_id: uuid.UUID, policy: InsurancePolicyIn) -> InsurancePolicy:
    """Write a person's policy (encrypted member id and date of birth); it is `on_file` until verified."""
    values = _policy_values(policy)
    saved = await db.scalar(
        pg_insert(InsurancePolicy)
        .values(user_id=user_id, **values)
        .on_conflict_do_update(index_elements=[InsurancePolicy.user_id], set_=values)
        .returning(InsurancePolicy),
        execution_options={"populate_existing": True},
    )
    assert saved is not None
    return saved


async def set_insurance(db: AsyncSession, actor: Actor, policy: InsurancePolicyIn) -> InsurancePolicy:
    """Replace the person's insurance. A change makes it `on_file` (verification starts again); the same
    policy sent again changes nothing, so a retried PUT keeps a verified status."""
    user_id = _person(actor)
    stored = await db.scalar(select(InsurancePolicy).where(InsurancePolicy.user_id == user_id).with_for_update())
    changed = _changed_fields(stored, policy)
    if stored is not None and not changed:
        return stored
    previous_status = stored.status if stored is not None else None  # read before the upsert refreshes `stored`
    saved = await save_policy(db, user_id, policy)
    await audit.record(
        db, actor, "insurance.updated", target_type="insurance_policy", target_id=user_id,
        fields=changed, replaced=stored is not None, previous_status=previous_status,
    )
    return saved


async def delete_insurance(db: AsyncSession, actor: Actor) -> None:
    """Remove the person's insurance (e.g. they now pay privately). Removing none is no error."""
    user_id = _person(actor)
    deleted = await db.scalar(
        delete(InsurancePolicy).where(InsurancePolicy.user_id == user_id).returning(InsurancePolicy.user_id)
    )
    if deleted is not None:
        await audit.record(db, actor, "insurance.deleted", target_type="insurance_policy", target_id=user_id)


# --- billing method -------------------------------------------------------------------------------


def card_number_refused(fields: list[str]) -> Problem:
    return Problem(
        422,
        "card_number_refused",
        "Caseload never takes a card number. Send the payment processor's token for the card "
        "(processor_token) with its brand, last four digits and expiry instead.",
        title="Unprocessable Content",
        errors=[{"field": field, "message": "looks like a card number; send the processor's token"} for field in fields],
    )


def billing_method_not_on_file() -> Problem:
    return Problem(
        404, "billing_method_not_on_file", "No form of billing is on file for you. Add one with PUT /v1/me/billing-method."
    )


async def read_billing_method(db: AsyncSession, actor: Actor) -> BillingMethod:
    user_id = _person(actor)
    method = await db.scalar(select(BillingMethod).where(BillingMethod.user_id == user_id))
    if method is None:
        raise billing_method_not_on_file()
    await audit.record(db, actor, "billing_method.read", target_type="billing_method", target_id=user_id)  # R2
    return method


async def set_billing_method(db: AsyncSession, actor: Actor, method: BillingMethodIn) -> BillingMethod:
    """Replace the person's form of billing with a processor token (never a card number)."""
    user_id = _person(actor)
    # The router refuses card numbers anywhere in the raw body; this guards callers that skip HTTP.
    if card_numbers.looks_like_card_number(method.processor_token):
        raise card_number_refused(["body.processor_token"])
    replaced = await db.scalar(select(BillingMethod.user_id).where(BillingMethod.user_id == user_id).with_for_update())
    values = {
        "processor_token": method.processor_token,
        "brand": method.brand,
        "last4": method.last4,
        "exp_month": method.exp_month,
        "exp_year": method.exp_year,
        "updated_at": func.now(),
    }
    saved = await db.scalar(
        pg_insert(BillingMethod)
        .values(user_id=user_id, **values)
        .on_conflict_do_update(index_elements=[BillingMethod.user_id], set_=values)
        .returning(BillingMethod),
        execution_options={"populate_existing": True},
    )
    assert saved is not None
    await audit.record(
        db, actor, "billing_method.updated", target_type="billing_method", target_id=user_id,
        fields=sorted(BillingMethodIn.model_fields), replaced=replaced is not None,
    )
    return saved


# --- acknowledgements -----------------------------------------------------------------------------


def _request_ip() -> str | None:
    request = current_request.get()
    if request is None or request.ip is None:
        return None
    try:
        return str(ipaddress.ip_address(request.ip))
    except ValueError:  # e.g. a test transport's made-up client name
        return None


async def acknowledge(db: AsyncSession, actor: Actor, form: AcknowledgementIn) -> tuple[Acknowledgement, bool]:
    """Acknowledge the current version of a form. Returns the acknowledgement and whether it is new:
    acknowledging a version twice returns the first acknowledgement (its time and address) unchanged."""
    user_id = _person(actor)
    current = readiness.CURRENT_FORM_VERSIONS[form.document]
    if form.version != current:
        raise conflict(
            "form_version_outdated",
            f"Version {form.version!r} of the {form.document.replace('_', ' ')} is not the current one. "
            f"Show the person version {current!r} and acknowledge that.",
            document=form.document,
            current_version=current,
        )
    created = await db.scalar(
        pg_insert(Acknowledgement)
        .values(id=uuid.uuid4(), user_id=user_id, document=form.document, version=form.version, ip=_request_ip())
        .on_conflict_do_nothing(index_elements=["user_id", "document", "version"])
        .returning(Acknowledgement.id)
    )
    acknowledgement = await db.scalar(
        select(Acknowledgement).where(
            Acknowledgement.user_id == user_id,
            Acknowledgement.document == form.document,
            Acknowledgement.version == form.version,
        )
    )
    assert acknowledgement is not None
    if created is not None:
        await audit.record(
            db, actor, "acknowledgement.created", target_type="acknowledgement", target_id=acknowledgement.id,
            document=form.document, version=form.version,
        )
    return acknowledgement, created is not None


async def list_acknowledgements(
    db: AsyncSession, actor: Actor, page: PageParams
) -> tuple[list[Acknowledgement], str | None]:
    stmt = select(Acknowledgement).where(Acknowledgement.user_id == _person(actor))
    return await paginate(db, stmt, page, keys=(Acknowledgement.acknowledged_at, Acknowledgement.id))


# --- the checklist --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GroupReadiness:
    client: Client
    group_name: str
    checklist: list[ChecklistItem]

    @property
    def ready(self) -> bool:
        return all(entry.done for entry in self.checklist)


@dataclass(frozen=True, slots=True)
class OnboardingView:
    person: PersonFacts
    forms: dict[str, str]  # document -> current version
    groups: list[GroupReadiness]


async def read_onboarding(db: AsyncSession, actor: Actor) -> OnboardingView:
    """C4 for the person: what is done and what is missing, in every group they are a client of."""
    user_id = _person(actor)
    rows = (
        await db.execute(
            select(Client, Group.name)
            .join(Group, Group.id == Client.group_id)
            .where(Client.user_id == user_id)
            .order_by(Group.name, Group.id)
        )
    ).all()
    person = (await person_facts(db, [user_id]))[user_id]
    return OnboardingView(
        person=person,
        forms=dict(readiness.CURRENT_FORM_VERSIONS),
        groups=[
            GroupReadiness(client, group_name, readiness.checklist(facts_for(client.billing_type, person)))
            for client, group_name in rows
        ],
    )
