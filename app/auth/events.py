"""Security events (A5-A8) as JSON log lines for monitoring: ids and outcomes, never emails or secrets."""

import uuid

import structlog

log = structlog.get_logger("caseload.security")


def security_event(event: str, *, user_id: uuid.UUID | None = None, **ids: object) -> None:
    """`event` is stable (`security.login_failed`, `security.password_reset`, ...): alerts match on it."""
    log.warning(event, user_id=str(user_id) if user_id else None, **{k: str(v) for k, v in ids.items() if v is not None})
