"""A10: nobody becomes a client, provider, admin or owner of a practice without knowing it.

Adding a person by email creates an invitation whatever the email is; the link (client record, provider
membership, admin grant) takes effect when the person accepts it: with the mailed single-use token, or logged
in under /v1/me/invitations. An invitation made together with a new account (`with_account`) is accepted by
accepting that account's invitation (choosing a password), which is the same mail.
"""

import uuid
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, LargeBinary, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base
from app.models.base import stamped_now, timestamp, uuid_pk


class Invitation(Base):
    __tablename__ = "invitations"
    __table_args__ = (
        CheckConstraint("kind IN ('client', 'provider', 'admin', 'owner')", name="kind"),
        CheckConstraint("status IN ('pending', 'accepted', 'declined', 'withdrawn')", name="status"),
        # Only the token's SHA-256 is stored; an invitation an import made has none (accepted when logged in).
        Index("uq_invitations_token_hash", "token_hash", unique=True, postgresql_where=text("token_hash IS NOT NULL")),
        Index("ix_invitations_user_id_status", "user_id", "status"),
        Index("ix_invitations_group_id", "group_id"),
        Index("ix_invitations_client_id", "client_id"),
        Index("ix_invitations_admin_grant_id", "admin_grant_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(12))
    client_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    admin_grant_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("admin_grants.id", ondelete="CASCADE"))
    license_type: Mapped[str | None] = mapped_column(String(20))  # a provider invitation's license (G5)
    # The account was created with this invitation: accepting the account's invitation accepts it too.
    with_account: Mapped[bool] = mapped_column(Boolean, server_default=text("false"), default=False)
    status: Mapped[str] = mapped_column(String(12), server_default="pending", default="pending")
    token_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    invited_by_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = stamped_now()
    expires_at: Mapped[datetime | None] = timestamp()
    decided_at: Mapped[datetime | None] = timestamp()
