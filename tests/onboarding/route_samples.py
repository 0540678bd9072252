"""Minimal valid bodies for the client's own onboarding routes (/v1/me/...), for the generated capability
matrix (tests/groups/test_capability_matrix.py), checked here by test_route_samples.py.

`extend_world` gives every person of the matrix's world what a finished onboarding leaves (insurance,
a form of billing) and the group a default rate, so reading them, or an estimate, answers 200 rather than
a 404 that the matrix would take for a tenancy refusal.
"""

import uuid

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import crypto
from app.models import BillingMethod, InsurancePolicy, Rate

SAMPLE_BODIES: dict[str, dict] = {
    "onboarding-set_insurance": {"company": "Aetna", "member_id": "W123456789", "copay_cents": 2500},
    "onboarding-set_billing_method": {
        "processor_token": "pm_1PqSampleToken",
        "brand": "visa",
        "last4": "4242",
        "exp_month": 12,
        "exp_year": 2040,
    },
    "onboarding-acknowledge_form": {"document": "billing_policy", "version": "2026-01"},
}

_PEOPLE = ("owner", "admin_only", "provider_only", "provider_admin", "other_group_member", "staff")


async def extend_world(db: AsyncSession, ids: dict[str, uuid.UUID], storage: object) -> None:
    for name in _PEOPLE:
        if name not in ids:
            continue
        db.add(
            InsurancePolicy(
                user_id=ids[name],
                company="Matrix Health",
                member_id_encrypted=crypto.encrypt("M0000001", purpose="insurance_member_id"),
                member_id_last4="0001",
                copay_cents=2000,
            )
        )
        db.add(
            BillingMethod(user_id=ids[name], processor_token="pm_matrix_token", brand="visa", last4="4242", exp_month=12, exp_year=2040)
        )
    await db.flush()
    # The rate an estimate needs (C6); another feature may have set the same one.
    await db.execute(
        pg_insert(Rate)
        .values(id=uuid.uuid4(), group_id=ids["group_id"], provider_user_id=None, service_code="90837", private_pay_cents=15000, insurance_cents=11200)
        .on_conflict_do_nothing()
    )
