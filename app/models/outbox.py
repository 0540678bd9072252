"""Outboxes: work that must happen after a commit, written in the same transaction as its cause."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Identity, Index, Integer, SmallInteger, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base
from app.models.base import stamped_now, timestamp, uuid_pk

JOB_STATES = ("queued", "running", "retrying", "failed", "done")


class OutboxJob(Base):
    """A job for arq; the relay sends it to Redis once committed and marks it relayed.

    It is done only once the job has run (the worker marks it): a relayed row that is not done after a
    while is sent again, so a Redis that lost its data loses no job (arq dedupes by `job_id`).
    """

    __tablename__ = "outbox_jobs"
    __table_args__ = (
        Index("ix_outbox_jobs_pending", "id", postgresql_where=text("relayed_at IS NULL")),
        # The reconciler's scan and the worker's "done" mark touch only rows not done: small indexes.
        Index("ix_outbox_jobs_relayed_at", "relayed_at", postgresql_where=text("relayed_at IS NOT NULL AND done_at IS NULL")),
        Index("ix_outbox_jobs_job_id", "job_id", postgresql_where=text("done_at IS NULL")),
        # The job console (O1): a job is found by its arq id whatever its state, and listed by state, newest first.
        Index("ix_outbox_jobs_job_id_all", "job_id"),
        Index("ix_outbox_jobs_state_id", "state", "id"),
        CheckConstraint(f"state IN ({', '.join(repr(s) for s in JOB_STATES)})", name="state"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    function: Mapped[str] = mapped_column(String(64))
    args: Mapped[list[Any]] = mapped_column(JSONB, server_default="[]")
    # arq's `_job_id`: a deterministic one dedupes a job while arq keeps its result.
    job_id: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = stamped_now()
    relayed_at: Mapped[datetime | None] = timestamp()
    done_at: Mapped[datetime | None] = timestamp()
    # How many times the reconciler sent it again; it gives up (and logs) past a limit.
    relays: Mapped[int] = mapped_column(SmallInteger, server_default="0", default=0)
    # The job console (O1): what the worker made of it, one small UPDATE per transition.
    state: Mapped[str] = mapped_column(String(10), server_default="queued", default="queued")
    tries: Mapped[int] = mapped_column(SmallInteger, server_default="0", default=0)
    # The exception's class and a sanitized message (app/core/job_console.py): never PHI.
    last_error: Mapped[str | None] = mapped_column(String(500))
    started_at: Mapped[datetime | None] = timestamp()
    finished_at: Mapped[datetime | None] = timestamp()
    # The request that caused the job (its X-Request-ID): job log lines carry it.
    request_id: Mapped[str | None] = mapped_column(String(64))
    # What a long job reports while it runs (settlement, import finalize), and what it answered (ids, counts).
    progress: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    result: Mapped[Any | None] = mapped_column(JSONB)


class MailMessage(Base):
    __tablename__ = "mail_messages"
    __table_args__ = (Index("ix_mail_messages_unsent", "created_at", postgresql_where=text("sent_at IS NULL")),)

    id: Mapped[uuid.UUID] = uuid_pk()
    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(200))
    body_text: Mapped[str] = mapped_column(Text)
    # What kind of mail, for logs and support: logs name the template and the id, never the address.
    template: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = stamped_now()
    sent_at: Mapped[datetime | None] = timestamp()
    attempts: Mapped[int] = mapped_column(Integer, server_default="0", default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
