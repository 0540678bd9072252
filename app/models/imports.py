"""Client imports (I1-I11): an uploaded file, its analysed rows, and what finalizing did with them."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Identity,
    Index,
    Integer,
    SmallInteger,
    LargeBinary,
    String,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base
from app.models.base import stamped_now, timestamp, uuid_pk


class ClientImport(Base):
    __tablename__ = "client_imports"
    __table_args__ = (
        CheckConstraint(
            "status IN ('queued', 'analyzing', 'needs_mapping', 'ready', 'failed', 'finalizing', 'finalized', 'undone')",
            name="status",
        ),
        CheckConstraint("rows_done <= rows_total", name="progress"),
        Index("ix_client_imports_group_id_created_at", "group_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    # The roster that receives the clients.
    provider_user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    uploaded_by_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    file_name: Mapped[str] = mapped_column(String(255))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[bytes] = mapped_column(LargeBinary(32))
    storage_key: Mapped[str] = mapped_column(String(300))
    # A zip password given at upload: encrypted, and erased once the analysis has read the archive.
    password_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), server_default="queued", default="queued")
    format: Mapped[str | None] = mapped_column(String(40))
    container: Mapped[str | None] = mapped_column(String(10))
    rows_total: Mapped[int] = mapped_column(Integer, server_default="0", default=0)
    rows_done: Mapped[int] = mapped_column(Integer, server_default="0", default=0)
    # While the file is read, before its rows are counted: how much of it has been (of size_bytes).
    bytes_done: Mapped[int] = mapped_column(BigInteger, server_default="0", default=0)
    # Rows the reader has found so far, while it reads (rows_total is known only at the end).
    rows_read: Mapped[int] = mapped_column(Integer, server_default="0", default=0)
    warnings: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default="[]", default=list)
    # I13: when the headers are not recognised, the file's header cells and a few sample rows (shown to the
    # uploader only: they are the file's content), and the mapping the person chose {field: header}.
    columns: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    mapping: Mapped[dict[str, str] | None] = mapped_column(JSONB)
    failure_code: Mapped[str | None] = mapped_column(String(40))
    failure_detail: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = stamped_now()
    analyzed_at: Mapped[datetime | None] = timestamp()
    finalize_requested_at: Mapped[datetime | None] = timestamp()
    finalized_at: Mapped[datetime | None] = timestamp()
    finalized_by_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # I14: when the import was undone (its result keeps what the undo removed).
    undone_at: Mapped[datetime | None] = timestamp()
    send_welcome_email: Mapped[bool] = mapped_column(Boolean, server_default=text("false"), default=False)
    # What finalizing did: clients imported, linked, documents attached, skipped (I8).
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # The last sign of life of its job (started, a chunk written, sent again), and how many times the
    # sweeper sent the job again after it vanished or died: past a limit the import fails (app/imports/sweeper.py).
    heartbeat_at: Mapped[datetime | None] = timestamp()
    job_attempts: Mapped[int] = mapped_column(SmallInteger, server_default="0", default=0)


class ImportRow(Base):
    """One person read from the file, normalised and classified against the group's clients (I6)."""

    __tablename__ = "import_rows"
    __table_args__ = (
        CheckConstraint("classification IN ('new', 'existing', 'uncertain', 'invalid')", name="classification"),
        CheckConstraint("outcome IS NULL OR outcome IN ('imported', 'linked', 'skipped', 'undone')", name="outcome"),
        Index("ix_import_rows_import_id_classification_id", "import_id", "classification", "id"),
        Index("ix_import_rows_import_id_id", "import_id", "id"),
        # Review (selection) and finalize (outcome, client) update every row of an import. No index
        # covers those columns, and pages keep room, so these are HOT updates: a heap write per
        # row, not three index inserts.
        {"postgresql_with": {"fillfactor": 50}},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    import_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("client_imports.id", ondelete="CASCADE"))
    line: Mapped[int] = mapped_column(Integer)
    source_ref: Mapped[str] = mapped_column(String(200))
    # As read (trimmed), then normalised: case-folded email, E.164 phone.
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    # Given names after the first, kept whole (I12); a new client's first name is first + middle.
    middle_name: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(40))
    email_key: Mapped[str | None] = mapped_column(String(320, collation="C"))
    phone_e164: Mapped[str | None] = mapped_column(String(20))
    classification: Mapped[str] = mapped_column(String(10))
    badges: Mapped[list[str]] = mapped_column(ARRAY(String(40)), server_default="{}", default=list)
    invalid_reason: Mapped[str | None] = mapped_column(String(200))
    # What cannot be imported or was left out, per column: [{column, code, message}] (I12).
    problems: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default="[]", default=list)
    candidate_client_ids: Mapped[list[uuid.UUID]] = mapped_column(
        ARRAY(Uuid), server_default="{}", default=list
    )
    # The client ids below are history, not foreign keys: deleting client records (an undo of 100,000, I14) would
    # otherwise look through every import row of every import for each record (no index on them: see fillfactor).
    # Readers join clients, so an id whose record is gone matches nothing.
    matched_client_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    selected: Mapped[bool] = mapped_column(Boolean, server_default=text("false"), default=False)
    # DocumentRefs from the archive: member name, file name, size, category.
    documents: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default="[]", default=list)
    outcome: Mapped[str | None] = mapped_column(String(10))
    client_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)


class ImportMapping(Base):
    """A column mapping a group saved (I13), applied to the next file whose headers are the same set."""

    __tablename__ = "import_mappings"
    __table_args__ = (UniqueConstraint("group_id", "header_key"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    # sha256 of the file's normalised header cells, sorted: the same columns in any order share a mapping.
    header_key: Mapped[str] = mapped_column(String(64))
    mapping: Mapped[dict[str, str]] = mapped_column(JSONB)
    saved_by_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    saved_at: Mapped[datetime] = stamped_now()
