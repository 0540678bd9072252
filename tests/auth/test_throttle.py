"""Throttling that protects (rule A8): per account-and-address and per address, an account-wide brake that
slows but never refuses, X-Forwarded-For believed only from trusted proxies, and a Redis outage failing closed."""

import time

import httpx
import orjson
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import get_settings
from app.core import proxies, throttle
from app.models import AuditEvent
from tests.auth.conftest import PASSWORD, login

WRONG = "wrong password!!"


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch):
    """The app's own settings object, changed for one test (the app and client_ip read the same one)."""
    current = get_settings()
    monkeypatch.setattr(current, "login_brake_delay_s", 1.5)  # well above a login on a busy machine
    return current


async def test_failures_elsewhere_never_refuse_the_right_password_from_a_clean_address(from_address, person, settings) -> None:
    # rule A8: an attacker on other addresses cannot lock the owner out; the account-wide brake only slows
    for n in range(5):
        async with from_address(f"198.51.100.{n + 1}") as attacker:
            for _ in range(5):
                assert (await login(attacker, "grace@example.com", WRONG)).status_code == 401
            # That address is now refused for this account, even with the right password...
            refused = await login(attacker, "grace@example.com", PASSWORD)
            assert refused.status_code == 429
            assert refused.json()["code"] == "too_many_login_attempts"
            assert int(refused.headers["Retry-After"]) > 0
    # ...25 failures from 5 addresses put the account under the brake (20): slowed, not refused.
    async with from_address("192.0.2.44") as owner:
        started = time.perf_counter()
        response = await login(owner, "grace@example.com", PASSWORD)
        elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.text
    assert elapsed >= settings.login_brake_delay_s


async def test_without_the_brake_a_login_is_not_delayed(from_address, person, settings) -> None:
    async with from_address("192.0.2.45") as owner:
        started = time.perf_counter()
        assert (await login(owner, "grace@example.com", PASSWORD)).status_code == 200
        assert time.perf_counter() - started < settings.login_brake_delay_s


async def test_one_address_guessing_many_accounts_is_refused(from_address, person) -> None:
    # rule A8: per address
    async with from_address("198.51.100.77") as attacker:
        for n in range(30):
            await login(attacker, f"someone-{n}@example.com", WRONG)
        response = await login(attacker, "grace@example.com", PASSWORD)
    assert response.status_code == 429
    assert "address" in response.json()["detail"]
    async with from_address("192.0.2.10") as owner:
        assert (await login(owner, "grace@example.com", PASSWORD)).status_code == 200


async def test_forwarded_for_is_ignored_unless_the_proxy_is_trusted(client: httpx.AsyncClient, db: AsyncSession, person) -> None:
    # rule A8: a caller cannot name a fresh address per request
    for n in range(5):
        await client.post("/v1/auth/token", data={"username": "grace@example.com", "password": WRONG}, headers={"X-Forwarded-For": f"10.9.9.{n}"})
    response = await client.post("/v1/auth/token", data={"username": "grace@example.com", "password": PASSWORD}, headers={"X-Forwarded-For": "10.9.9.200"})
    assert response.status_code == 429
    ips = {str(ip) for ip in (await db.scalars(select(AuditEvent.actor_ip).where(AuditEvent.action == "auth.login"))).all()}
    assert ips == {"203.0.113.7"}  # the peer, not what the header claimed


async def test_forwarded_for_from_a_trusted_proxy_names_the_client(client: httpx.AsyncClient, db: AsyncSession, person, settings, monkeypatch) -> None:
    # rule A8: behind a declared load balancer every person keeps their own budget
    monkeypatch.setattr(settings, "trusted_proxies", ["203.0.113.0/24"])  # the test client's peer address
    for _ in range(5):
        await client.post("/v1/auth/token", data={"username": "grace@example.com", "password": WRONG}, headers={"X-Forwarded-For": "198.51.100.1"})
    blocked = await client.post("/v1/auth/token", data={"username": "grace@example.com", "password": PASSWORD}, headers={"X-Forwarded-For": "198.51.100.1"})
    assert blocked.status_code == 429
    # A spoofed entry to the left of the proxy's own is not believed: the proxy saw 192.0.2.8.
    owner = await client.post(
        "/v1/auth/token", data={"username": "grace@example.com", "password": PASSWORD}, headers={"X-Forwarded-For": "198.51.100.1, 192.0.2.8"}
    )
    assert owner.status_code == 200
    last = await db.scalar(select(AuditEvent.actor_ip).where(AuditEvent.action == "auth.login").order_by(AuditEvent.id.desc()))
    assert str(last) == "192.0.2.8"


def test_the_nearest_untrusted_hop_is_the_client() -> None:
    # rule A8, the pure rule
    trusted = proxies.networks(("10.0.0.0/8", "2001:db8::/32"))
    assert proxies.forwarded_client("10.0.0.5", "203.0.113.9", trusted) == "203.0.113.9"
    assert proxies.forwarded_client("10.0.0.5", "1.2.3.4, 203.0.113.9, 10.0.0.7", trusted) == "203.0.113.9"
    assert proxies.forwarded_client("198.51.100.3", "203.0.113.9", trusted) == "198.51.100.3"  # peer not trusted
    assert proxies.forwarded_client("10.0.0.5", "not-an-address", trusted) == "10.0.0.5"
    assert proxies.forwarded_client("10.0.0.5", None, trusted) == "10.0.0.5"
    assert proxies.forwarded_client("10.0.0.5", "10.1.1.1, 10.0.0.6", trusted) == "10.1.1.1"


def test_an_ipv6_subscriber_is_one_address() -> None:
    # rule A8: a /64 is one household; counting single IPv6 addresses would give it 2^64 budgets
    assert throttle._address("2001:db8:1:2::1") == throttle._address("2001:db8:1:2:ffff::9")
    assert throttle._address("2001:db8:1:3::1") != throttle._address("2001:db8:1:2::1")


async def test_with_redis_down_login_fails_closed_with_503(app: FastAPI, client: httpx.AsyncClient, person) -> None:
    # rule A8: no counter, no unlimited guessing; a problem with Retry-After, not a 500
    app.state.redis = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)  # nothing listens there
    try:
        for password in (WRONG, PASSWORD):
            response = await login(client, "grace@example.com", password)
            assert response.status_code == 503, response.text
            assert response.json()["code"] == "throttle_unavailable"
            assert int(response.headers["Retry-After"]) > 0
    finally:
        await app.state.redis.aclose()


async def test_security_events_are_json_lines_with_ids_never_emails(client: httpx.AsyncClient, person, capsys) -> None:
    # rule A8 (and DESIGN 8): failed logins and lockouts are logged for monitoring, without the email
    from app.core.logging import configure_logging

    configure_logging("INFO")
    capsys.readouterr()
    for _ in range(6):
        await login(client, "grace@example.com", WRONG)
    lines = [orjson.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    events = [line for line in lines if line["event"].startswith("security.")]
    assert [e["event"] for e in events].count("security.login_failed") == 5
    assert any(e["event"] == "security.login_locked" for e in events)
    assert all(e.get("user_id") in (None, str(person.id)) for e in events)
    assert "grace" not in orjson.dumps(lines).decode().lower()
