"""The staff ops routes for the generated capability matrix (tests/groups/test_capability_matrix.py)."""

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.storage import Storage
from app.models import OutboxJob

SAMPLE_BODIES: dict[str, dict] = {}


async def extend_world(db: AsyncSession, ids: dict, storage: Storage) -> None:
    """A failed settlement job `job_id`: readable as a job and a settlement, and replayable by staff."""
    job = OutboxJob(function="settle", args=[], job_id="settle:due:matrix", state="failed", tries=1,
                    last_error="RuntimeError: the bank was away")
    db.add(job)
    await db.flush()
    ids["job_id"] = job.job_id
