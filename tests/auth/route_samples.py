"""Sample bodies for the account routes (A5-A7), used by the generated capability matrix.

The world gets a login of the client person: `{login_id}` belongs to nobody in the matrix, so
ending it is a 404 for every caller (another person's login is never found).
"""

from datetime import timedelta
import uuid

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import tokens
from app.core.storage import LocalStorage
from app.models import AuthSession, Client

SAMPLE_BODIES: dict[str, dict] = {
    "me-change_password": {"current_password": "not the password", "new_password": "a brand new passphrase"},
    "me-confirm_two_factor": {"code": "123456"},
    "me-replace_recovery_codes": {"code": "123456"},
    "me-disable_two_factor": {"code": "123456"},
}


async def extend_world(db: AsyncSession, ids: dict[str, uuid.UUID], storage: LocalStorage) -> None:
    client = await db.get(Client, ids["client_id"])
    assert client is not None
    login = AuthSession(
        user_id=client.user_id,
        token_hash=tokens.digest(tokens.new_secret(tokens.SESSION_PREFIX)),
        expires_at=func.now() + timedelta(hours=1),
    )
    db.add(login)
    await db.flush()
    ids["login_id"] = login.id
