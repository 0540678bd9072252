"""X7: whether the current request comes from a test-mode API key (`ck_test_`).

A test key reaches only its group's test-mode copy; what that request would mail is not sent
(core/mail.py asks here). Bound to the request id rather than a plain flag: requests served in one
task one after the other (tests' in-process client) must not inherit it.
"""

from contextvars import ContextVar

from app.core.middleware import current_request

_request_id: ContextVar[str | None] = ContextVar("test_mode_request", default=None)


def enter() -> None:
    info = current_request.get()
    _request_id.set(info.request_id if info is not None else None)


def active() -> bool:
    info = current_request.get()
    return info is not None and _request_id.get() == info.request_id
