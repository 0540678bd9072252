"""Mail: written to an outbox table in the caller's transaction, delivered by a worker job.

`MAIL_BACKEND=file` (the default in development and tests) writes each message as an `.eml` file
under `MAIL_DIR`, so a person or a test can open a verification link without a mail server.
"""

import asyncio
import os
import smtplib
import tempfile
import uuid
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Protocol

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.functions import now

from app.config import Settings
from app.core import test_mode
from app.core.jobs import enqueue
from app.models import MailMessage

log = structlog.get_logger("caseload.mail")


async def send_mail(db: AsyncSession, *, to: str, subject: str, body: str, template: str) -> uuid.UUID:
    if test_mode.active():
        # X7: a test-mode group mails nobody; the caller's work goes on as if it had been sent.
        log.info("mail.skipped_test_mode", template=template)
        return uuid.uuid4()
    message = MailMessage(id=uuid.uuid4(), to_address=to, subject=subject, body_text=body, template=template)
    db.add(message)
    await enqueue(db, "deliver_mail", str(message.id), job_id=f"mail:{message.id}")
    return message.id


class MailBackend(Protocol):
    async def deliver(self, message: EmailMessage) -> None: ...


class FileBackend:
    def __init__(self, directory: Path):
        self.directory = directory

    async def deliver(self, message: EmailMessage) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{message['X-Caseload-Mail-Id']}.eml"
        # Write then rename: a reader never sees half a message.
        with tempfile.NamedTemporaryFile("wb", dir=self.directory, delete=False, suffix=".tmp") as tmp:
            tmp.write(message.as_bytes())
        os.replace(tmp.name, self.directory / name)


class LogBackend:
    async def deliver(self, message: EmailMessage) -> None:
        log.info("mail_logged", mail_id=message["X-Caseload-Mail-Id"], template=message["X-Caseload-Template"])


class SmtpBackend:
    def __init__(self, settings: Settings):
        self.settings = settings

    async def deliver(self, message: EmailMessage) -> None:
        await asyncio.to_thread(self._send, message)

    def _send(self, message: EmailMessage) -> None:
        s = self.settings
        with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=30) as smtp:
            if s.smtp_starttls:
                smtp.starttls()
            if s.smtp_username:
                smtp.login(s.smtp_username, s.smtp_password or "")
            smtp.send_message(message)


def mail_backend(settings: Settings) -> MailBackend:
    if settings.mail_backend == "smtp":
        return SmtpBackend(settings)
    if settings.mail_backend == "log":
        return LogBackend()
    return FileBackend(settings.mail_path)


def build_email(row: MailMessage, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = row.to_address
    message["Subject"] = row.subject
    message["Date"] = format_datetime(row.created_at)
    message["Message-ID"] = make_msgid(idstring=row.id.hex, domain="caseload.example")
    message["X-Caseload-Mail-Id"] = str(row.id)
    message["X-Caseload-Template"] = row.template
    message.set_content(row.body_text)
    return message


async def deliver_one(db: AsyncSession, mail_id: uuid.UUID, backend: MailBackend, sender: str) -> bool:
    """Deliver one unsent message; False when it was already sent or another worker holds it."""
    row = await db.scalar(
        select(MailMessage)
        .where(MailMessage.id == mail_id, MailMessage.sent_at.is_(None))
        .with_for_update(skip_locked=True)
    )
    if row is None:
        return False
    row.attempts += 1
    try:
        await backend.deliver(build_email(row, sender))
    except Exception as exc:
        # Kept when the caller commits, so support can see why a message is stuck.
        row.last_error = f"{type(exc).__name__}: {exc}"[:500]
        raise
    row.sent_at = now()
    log.info("mail_sent", mail_id=str(row.id), template=row.template)
    return True
