"""The availability routes for the generated capability matrix (tests/groups/test_capability_matrix.py),
checked by test_route_samples.py."""

from datetime import UTC, date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.storage import Storage
from app.models import ProviderLicense, TimeOff

SAMPLE_BODIES: dict[str, dict] = {
    "availability-replace_weekly_hours": {
        "time_zone": "America/Chicago",
        "hours": [{"weekday": 0, "start": "09:00", "end": "17:00", "location_id": None, "effective_from": "2030-01-01"}],
    },
    "availability-add_time_off": {"first_day": "2031-01-06", "last_day": "2031-01-10"},
    "availability-add_license": {"state": "CA", "license_type": "LMFT", "number": "LMFT 98765", "expires_on": "2032-06-30"},
    "availability-put_booking_settings": {
        "minimum_notice_minutes": 720, "horizon_days": 45, "therapy_minutes": 50, "consultation_minutes": 15, "buffer_minutes": 10,
    },
}


async def extend_world(db: AsyncSession, ids: dict, storage: Storage) -> None:
    """Time off and a license of provider `user_id`, as `time_off_id` and `license_id`."""
    off = TimeOff(group_id=ids["group_id"], provider_user_id=ids["user_id"], starts_at=datetime(2031, 2, 3, 14, tzinfo=UTC),
                  ends_at=datetime(2031, 2, 3, 18, tzinfo=UTC), all_day=False)
    held = ProviderLicense(group_id=ids["group_id"], provider_user_id=ids["user_id"], state="NY", license_type="LPC",
                           number="LPC 0001", expires_on=date(2032, 1, 1))
    db.add_all([off, held])
    await db.flush()
    ids["time_off_id"] = off.id
    ids["license_id"] = held.id
