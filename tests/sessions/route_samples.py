"""The session routes for the generated capability matrix (tests/groups/test_capability_matrix.py),
checked by test_route_samples.py."""

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.storage import Storage
from app.models import TherapySession

SAMPLE_BODIES: dict[str, dict] = {
    "sessions-create_session": {
        "provider_id": "$user_id",
        "client_id": "$client_id",
        "starts_at": "2031-01-06T15:00:00Z",
        "duration_minutes": 50,
        "kind": "therapy",
        "telehealth": True,
    },
    "sessions-create_series": {
        "provider_id": "$user_id",
        "client_id": "$client_id",
        "starts_at": "2031-02-03T15:00:00Z",
        "duration_minutes": 50,
        "kind": "therapy",
        "telehealth": True,
        "repeat": {"every_weeks": 1, "count": 4},
    },
    "sessions-update_session": {"duration_minutes": 45},
    "sessions-confirm_session": {"service_code": "90837", "diagnosis_code": "F41.1"},
    "sessions-cancel_session": {"by": "provider", "reason": "Provider unavailable"},
    "sessions-cancel_my_session": {"reason": "Travel"},
    "sessions-set_my_reminders": {"enabled": False},
}


async def extend_world(db: AsyncSession, ids: dict, storage: Storage) -> None:
    """A scheduled session of provider `user_id` with client `client_id` that has started, as `session_id`."""
    starts_at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    session = TherapySession(
        id=uuid.uuid4(), group_id=ids["group_id"], provider_user_id=ids["user_id"], client_id=ids["client_id"],
        kind="therapy", starts_at=starts_at, duration_minutes=50, ends_at=starts_at + timedelta(minutes=50),
        telehealth=True, status="scheduled", created_by_user_id=ids["user_id"],
    )
    db.add(session)
    await db.flush()
    ids["session_id"] = session.id
