"""S13: a telehealth session needs the provider licensed in the client's telehealth state."""

import uuid
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Problem, conflict
from app.models import Client, ProviderLicense


async def license_expiry(db: AsyncSession, group_id: uuid.UUID, provider_id: uuid.UUID, state: str) -> date | None:
    """The last day the provider is licensed in `state` (the latest expiry of their licenses there), or None."""
    return await db.scalar(select(func.max(ProviderLicense.expires_on)).where(
        ProviderLicense.group_id == group_id, ProviderLicense.provider_user_id == provider_id, ProviderLicense.state == state,
    ))


def not_licensed(state: str) -> Problem:
    return conflict(
        "not_licensed_in_state",
        f"The provider holds no license valid in {state} on that day, where the client receives telehealth. "
        "Book in person at a practice location, book another provider licensed there, or record the license first.",
        state=state,
    )


async def check_telehealth_license(
    db: AsyncSession, group_id: uuid.UUID, provider_id: uuid.UUID, client_id: uuid.UUID, starts_at: datetime, zone: str
) -> None:
    """S13: a telehealth session needs a license, valid on the session's local day, in the client's state.

    A client whose telehealth state is not on file is not checked: there is nothing to check against."""
    state = await db.scalar(select(Client.telehealth_state).where(Client.id == client_id))
    if state is None:
        return
    expiry = await license_expiry(db, group_id, provider_id, state)
    if expiry is None or starts_at.astimezone(ZoneInfo(zone)).date() > expiry:
        raise not_licensed(state)
