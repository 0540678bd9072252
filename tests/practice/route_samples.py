"""Minimal valid bodies for the practice and provider routes, used by the generated capability matrix
(tests/groups/test_capability_matrix.py) and checked here by test_route_samples.py.

A PATCH sample touches one field of the capability its route declares, so the matrix's expectation
(derived from that capability) is exactly what the route enforces.
"""

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.core import crypto, tokens
from app.core.storage import Storage
from app.models import BankAccountChange

# The world's bank account change waiting for the owner (P8), confirmed or refused with this token.
CONFIRMATION_TOKEN = "cbc_capability_matrix_sample_token"

SAMPLE_BODIES: dict[str, dict] = {
    "practice-update_settings": {"contact_email": "front-desk@example.com"},
    "practice-replace_rates": {
        "rates": [{"service_code": "90837", "provider_user_id": None, "private_pay_cents": 15000, "insurance_cents": 11200}]
    },
    "practice-set_bank_account": {
        "account_holder_name": "Sample Practice LLC",
        "routing_number": "011000015",
        "account_number": "000123456789",
        "account_type": "checking",
    },
    "practice-submit_identity_verification": {
        "legal_name": "Sample Owner",
        "date_of_birth": "1980-04-02",
        "tax_id": "12-3456789",
    },
    "practice-decide_identity_verification": {"decision": "verified"},
    "practice-confirm_bank_account": {"token": CONFIRMATION_TOKEN},
    "practice-refuse_bank_account": {"token": CONFIRMATION_TOKEN},
    "providers-update_profile": {"display_name": "Dr. Sample Provider"},
    "providers-update_locations": {
        "locations": [
            {"label": "Main office", "address_line1": "1 Main St", "city": "Springfield", "state": "IL", "postal_code": "62701"}
        ]
    },
    "providers-update_intake_form": {
        "questions": [{"id": "reason", "label": "What brings you in?", "kind": "long_text", "required": True}]
    },
}


async def extend_world(db: AsyncSession, ids: dict, storage: Storage) -> None:
    """A bank account change of group `group_id` waiting for the owner's confirmation (P8)."""
    db.add(
        BankAccountChange(
            id=uuid.uuid4(), group_id=ids["group_id"], account_holder_name="Sample Practice LLC", routing_number="011000015",
            account_number_encrypted=crypto.encrypt("000123456789", purpose="bank_account_number"), account_last4="6789",
            account_type="checking", token_hash=tokens.digest(CONFIRMATION_TOKEN),
            expires_at=datetime.now(UTC) + timedelta(days=3),
        )
    )
    await db.flush()
