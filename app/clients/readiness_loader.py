"""C4: the facts behind the readiness checklist, loaded for many clients in one statement.

Every client response shows the checklist, so a page of 50 clients costs one more statement, not 50:
the person-level facts (verified account, insurance, form of billing, acknowledged forms) are read for
all the people behind the given clients at once, then paired with each client's billing type.
"""

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import any_, bindparam, exists, func, select, tuple_
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.ext.asyncio import AsyncSession

from app.clients import readiness
from app.clients.readiness import ReadinessFacts
from app.models import Acknowledgement, BillingMethod, Client, InsurancePolicy, PracticeInsurance, User


@dataclass(frozen=True, slots=True)
class PersonFacts:
    """What the person has done, whatever group they are a client of (these belong to the person)."""

    account_verified: bool = False
    has_insurance: bool = False
    has_billing_method: bool = False
    acknowledged: frozenset[tuple[str, str]] = frozenset()  # (document, version), current versions only


def facts_for(billing_type: str, person: PersonFacts) -> ReadinessFacts:
    return ReadinessFacts(
        account_verified=person.account_verified,
        billing_type=billing_type,
        has_insurance=person.has_insurance,
        has_billing_method=person.has_billing_method,
        acknowledged=person.acknowledged,
    )


async def person_facts(
    db: AsyncSession, user_ids: Collection[uuid.UUID], *, now: datetime | None = None
) -> dict[uuid.UUID, PersonFacts]:
    """One statement for any number of people; a missing user gets all-false facts."""
    if not user_ids:
        return {}
    today = (now or datetime.now(UTC)).astimezone(UTC)
    current = dict(readiness.CURRENT_FORM_VERSIONS)  # read now: a new version un-readies at once
    # Insurance whose verification failed must be corrected before it counts as on file.
    insurance = exists().where(InsurancePolicy.user_id == User.id, InsurancePolicy.status != "failed")
    # An expired card is no form of billing; a card is good through the end of its expiry month.
    billing = exists().where(
        BillingMethod.user_id == User.id,
        tuple_(BillingMethod.exp_year, BillingMethod.exp_month) >= tuple_(today.year, today.month),
    )
    acknowledged = (
        select(func.array_agg(Acknowledgement.document))
        .where(
            Acknowledgement.user_id == User.id,
            tuple_(Acknowledgement.document, Acknowledgement.version).in_(list(current.items())),
        )
        .scalar_subquery()
    )
    rows = await db.execute(
        select(User.id, User.email_verified_at.is_not(None), insurance, billing, acknowledged).where(
            # One array parameter, not an IN list: the same statement text (and prepared statement) for any page size.
            User.id == any_(bindparam("user_ids", list(set(user_ids)), type_=ARRAY(UUID(as_uuid=True))))
        )
    )
    facts = {
        user_id: PersonFacts(
            account_verified=verified,
            has_insurance=has_insurance,
            has_billing_method=has_billing,
            acknowledged=frozenset((document, current[document]) for document in documents or ()),
        )
        for user_id, verified, has_insurance, has_billing, documents in rows
    }
    return {user_id: facts.get(user_id, PersonFacts()) for user_id in user_ids}


async def readiness_facts(db: AsyncSession, clients: Sequence[Client]) -> dict[uuid.UUID, ReadinessFacts]:
    """The checklist facts of each client, by client id, as its practice may see them (client_facts)."""
    return await client_facts(db, clients)


async def shown_insurance(db: AsyncSession, clients: Sequence[Client]) -> dict[uuid.UUID, InsurancePolicy | PracticeInsurance | None]:
    """C8: the policy each client's practice may see, by client id: the person's own once they accepted the
    practice's invitation, else (or when they have none) the copy this practice typed. Two statements."""
    if not clients:
        return {}
    consented = {c.user_id for c in clients if c.consented_at is not None}
    own = {}
    if consented:
        own = {p.user_id: p for p in await db.scalars(select(InsurancePolicy).where(
            InsurancePolicy.user_id == any_(bindparam("own_ids", list(consented), type_=ARRAY(UUID(as_uuid=True))))))}
    copies = {p.client_id: p for p in await db.scalars(select(PracticeInsurance).where(
        PracticeInsurance.client_id == any_(bindparam("client_ids", [c.id for c in clients], type_=ARRAY(UUID(as_uuid=True))))))}
    return {c.id: (own.get(c.user_id) if c.consented_at is not None else None) or copies.get(c.id) for c in clients}


async def client_facts(
    db: AsyncSession, clients: Sequence[Client], *, now: datetime | None = None,
    insurance: dict[uuid.UUID, InsurancePolicy | PracticeInsurance | None] | None = None,
) -> dict[uuid.UUID, ReadinessFacts]:
    """C4 as the client's practice may see it (C8): what the person did counts only once they accepted the
    practice's invitation; the insurance is the one shown_insurance() shows."""
    people = await person_facts(db, {c.user_id for c in clients if c.consented_at is not None}, now=now)
    if insurance is None:
        insurance = await shown_insurance(db, clients)
    facts = {}
    for client in clients:
        person = people[client.user_id] if client.consented_at is not None else PersonFacts()
        policy = insurance.get(client.id)
        facts[client.id] = ReadinessFacts(
            account_verified=person.account_verified,
            billing_type=client.billing_type,
            has_insurance=policy is not None and policy.status != "failed",
            has_billing_method=person.has_billing_method,
            acknowledged=person.acknowledged,
        )
    return facts
