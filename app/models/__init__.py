"""Every ORM model, imported here so Alembic (and `Base.metadata`) sees them all."""

from app.models.api_keys import ApiKey
from app.models.audit import AuditEvent
from app.models.clients import (
    Acknowledgement,
    BillingMethod,
    Client,
    ClientDocument,
    Conversation,
    InsurancePolicy,
    Message,
    PracticeInsurance,
    RosterEntry,
)
from app.models.groups import AdminGrant, CancellationPolicy, Group, Membership
from app.models.idempotency import IdempotencyRecord
from app.models.invitations import Invitation
from app.models.imports import ClientImport, ImportRow
from app.models.outbox import MailMessage, OutboxJob
from app.models.payouts import EarningLine, Payout
from app.models.practice import BankAccount, IdentityVerification, Rate
from app.models.providers import IntakeForm, PracticeLocation, ProviderProfile
from app.models.sessions import TherapySession
from app.models.users import AuthSession, EmailVerificationToken, User

__all__ = [
    "Invitation",
    "PracticeInsurance",
    "TherapySession",
    "Payout",
    "EarningLine",
    "ImportRow",
    "ClientImport",
    "Acknowledgement",
    "BillingMethod",
    "Client",
    "ClientDocument",
    "Conversation",
    "InsurancePolicy",
    "Message",
    "RosterEntry",
    "AdminGrant",
    "ApiKey",
    "AuditEvent",
    "AuthSession",
    "BankAccount",
    "CancellationPolicy",
    "EmailVerificationToken",
    "Group",
    "IdempotencyRecord",
    "IdentityVerification",
    "IntakeForm",
    "MailMessage",
    "Membership",
    "OutboxJob",
    "PracticeLocation",
    "ProviderProfile",
    "Rate",
    "User",
]
