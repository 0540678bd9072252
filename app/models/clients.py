"""Clients (C1-C7, G7): a person's client record in a group, the rosters it is on, and what makes it
ready to be seen: insurance, a form of billing, acknowledged forms. Documents and messages too.

A client is a user account (A1). Insurance, billing method and acknowledgements belong to the person
(they enter them once, through /v1/me); the client record and rosters belong to the group. What a practice
typed about a person (the name, email and phone on its client record, the insurance in
`practice_insurance_policies`) is that practice's copy: another practice never reads it (C8), and the
practice reads the person's own data only once they accepted its invitation (`clients.consented_at`).
"""

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, INET
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from app.core.db import Base
from app.models.base import stamped_now, timestamp, uuid_pk


class Client(Base):
    """C2: one record per person and group, whatever rosters it is on."""

    __tablename__ = "clients"
    __table_args__ = (
        # Person first: the same index serves the lookups of a person's records (by user_id alone),
        # so a client record costs one index entry fewer to write (imports write 100,000 at once).
        UniqueConstraint("user_id", "group_id"),
        CheckConstraint("billing_type IN ('insurance', 'private_pay')", name="billing_type"),
        # The roster's order and its name-prefix search, per group (C7): one index serves a group
        # of 100,000 clients. The keys are in the "C" collation, where a btree serves both
        # ORDER BY and LIKE 'prefix%' (text_pattern_ops would serve only the latter).
        Index("ix_clients_group_name", "group_id", "last_name_key", "first_name_key", "id"),
        Index("ix_clients_group_first_name", "group_id", "first_name_key"),
        Index("ix_clients_group_email", "group_id", "email_key"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    # Copies of the person's name and email (users is the truth; services update both together).
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(320))
    last_name_key: Mapped[str] = mapped_column(String(100, collation="C"), Computed("lower(last_name)", persisted=True))
    first_name_key: Mapped[str] = mapped_column(String(100, collation="C"), Computed("lower(first_name)", persisted=True))
    email_key: Mapped[str] = mapped_column(String(320, collation="C"), Computed("lower(email)", persisted=True))
    phone: Mapped[str | None] = mapped_column(String(20))  # E.164
    billing_type: Mapped[str] = mapped_column(String(12))
    telehealth_state: Mapped[str | None] = mapped_column(String(2))
    assessments: Mapped[list[str]] = mapped_column(ARRAY(String(20)), server_default="{}", default=list)
    created_at: Mapped[datetime] = stamped_now()
    created_by_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # A10, C8: when the person accepted this practice's invitation. Until then the practice sees only what it
    # typed (this row and its own insurance copy), nothing the person entered nor whether the account exists.
    consented_at: Mapped[datetime | None] = timestamp()


class _InsuranceTerms:
    """A plan as entered: the member id encrypted (only its last four are shown), and its cost share."""

    @declared_attr.directive
    def __table_args__(cls) -> tuple[CheckConstraint, ...]:
        return (
            CheckConstraint("status IN ('on_file', 'verification_pending', 'verified', 'failed')", name="status"),
            CheckConstraint("copay_cents IS NULL OR copay_cents >= 0", name="copay"),
            CheckConstraint("coinsurance_bp IS NULL OR coinsurance_bp BETWEEN 0 AND 10000", name="coinsurance"),
        )

    company: Mapped[str] = mapped_column(String(200))
    member_id_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    member_id_last4: Mapped[str] = mapped_column(String(4))
    date_of_birth_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The plan's cost share: a flat copay, or coinsurance in basis points of the contracted rate.
    copay_cents: Mapped[int | None] = mapped_column(Integer)
    coinsurance_bp: Mapped[int | None] = mapped_column(SmallInteger)
    status: Mapped[str] = mapped_column(String(24), server_default="on_file")
    updated_at: Mapped[datetime] = stamped_now()


class PracticeInsurance(_InsuranceTerms, Base):
    """C8: insurance a practice entered for its client: that practice's copy, never shown to another one.

    The person's own policy (InsurancePolicy, entered through /v1/me) replaces it in the practice's view once
    the person accepted the practice's invitation."""

    __tablename__ = "practice_insurance_policies"

    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), primary_key=True)


class RosterEntry(Base):
    """A client on one provider's roster. Archiving ends it; history stays (G7)."""

    __tablename__ = "roster_entries"
    __table_args__ = (
        Index(
            "uq_roster_entries_active",
            "client_id",
            "provider_user_id",
            unique=True,
            postgresql_where=text("archived_at IS NULL"),
        ),
        Index("ix_roster_entries_provider", "group_id", "provider_user_id"),
        Index("ix_roster_entries_client_id", "client_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    provider_user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    added_at: Mapped[datetime] = stamped_now()
    added_by_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    archived_at: Mapped[datetime | None] = timestamp()
    archived_by_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # I14: the import that added the entry, so that undoing it removes exactly its entries. A tag, not a foreign
    # key: an import's deletion must not look through every roster entry.
    import_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)


class InsurancePolicy(_InsuranceTerms, Base):
    """The person's insurance (C1, C4, C6). The member id is encrypted; only its last four are shown."""

    __tablename__ = "insurance_policies"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)


class BillingMethod(Base):
    """C4: a form of billing: a payment processor's token and the card's last four, never a card number."""

    __tablename__ = "billing_methods"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    processor_token: Mapped[str] = mapped_column(String(200))
    brand: Mapped[str] = mapped_column(String(20))
    last4: Mapped[str] = mapped_column(String(4))
    exp_month: Mapped[int] = mapped_column(SmallInteger)
    exp_year: Mapped[int] = mapped_column(SmallInteger)
    updated_at: Mapped[datetime] = stamped_now()


class Acknowledgement(Base):
    """C3, C4: the person acknowledged a version of the billing or privacy policy."""

    __tablename__ = "acknowledgements"
    __table_args__ = (
        UniqueConstraint("user_id", "document", "version"),
        CheckConstraint("document IN ('billing_policy', 'privacy_policy')", name="document"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    document: Mapped[str] = mapped_column(String(20))
    version: Mapped[str] = mapped_column(String(20))
    acknowledged_at: Mapped[datetime] = stamped_now()
    ip: Mapped[str | None] = mapped_column(INET)


DOCUMENT_CATEGORIES = ("clinical", "administrative", "billing", "psychotherapy_note", "message")
# C9: read and listed only by the client's treating providers (never admins or API keys).
RESTRICTED_DOCUMENT_CATEGORIES = ("psychotherapy_note", "message")


class ClientDocument(Base):
    """C7, I9: a client's document; the bytes live in storage under `storage_key`."""

    __tablename__ = "client_documents"
    __table_args__ = (
        Index("ix_client_documents_client_id_created_at", "client_id", "created_at"),
        CheckConstraint(f"category IN {DOCUMENT_CATEGORIES!r}", name="category"),
        # C11, C9: psychotherapy notes and messages are never shown to the client through sharing.
        CheckConstraint(f"NOT (shared_with_client AND category IN {RESTRICTED_DOCUMENT_CATEGORIES!r})", name="shared"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    file_name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[bytes] = mapped_column(LargeBinary(32))
    storage_key: Mapped[str] = mapped_column(String(300))
    source: Mapped[str] = mapped_column(String(20), server_default="upload")
    category: Mapped[str] = mapped_column(String(20), server_default="clinical", default="clinical")
    uploaded_by_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # I14: the import that attached it (undoing the import detaches exactly these). A tag, as on roster entries.
    import_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = stamped_now()
    # C11: the practice shares it with the client, who then lists and downloads it from /v1/me/documents.
    shared_with_client: Mapped[bool] = mapped_column(Boolean, server_default=text("false"), default=False)


class Conversation(Base):
    """Messages between one provider and one of their clients; admins never read them."""

    __tablename__ = "conversations"
    __table_args__ = (
        UniqueConstraint("group_id", "provider_user_id", "client_id"),
        Index("ix_conversations_client_id", "client_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    provider_user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = stamped_now()
    last_message_at: Mapped[datetime | None] = timestamp()
    # Read markers: a side's unread count is the other side's messages after its marker.
    provider_read_at: Mapped[datetime | None] = timestamp()
    client_read_at: Mapped[datetime | None] = timestamp()


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_conversation_id_id", "conversation_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    conversation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    sender_user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = stamped_now()
