"""The payout routes (and G6's removal route) for the generated capability matrix
(tests/groups/test_capability_matrix.py), checked by test_route_samples.py."""

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.storage import Storage
from tests.payouts.factories import confirmed_session_with_line, make_payout

SAMPLE_BODIES: dict[str, dict] = {
    "payouts-request_settlement": {},
    # {user_id} is the provider_only member: their unpaid payout makes an admin's removal a 409.
    "memberships-remove_provider": {"reason": "Left the practice."},
}


async def extend_world(db: AsyncSession, ids: dict, storage: Storage) -> None:
    """A payout of group `group_id` holding one session of provider `user_id` with client `client_id`."""
    _, line = await confirmed_session_with_line(
        db, group_id=ids["group_id"], provider_id=ids["user_id"], client_id=ids["client_id"],
        confirmed_at=datetime(2026, 1, 5, 15, tzinfo=UTC), amount_cents=15000,
    )
    payout = await make_payout(db, ids["group_id"], [line])
    ids["payout_id"] = payout.id
    ids["year"] = 2026
