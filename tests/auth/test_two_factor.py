"""Two-factor sign-in: enrolment, confirmation, the two-step login, recovery codes, disabling, staff, and
the group setting that requires it of owners and admins: rule A6."""

from datetime import timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import totp
from app.core import crypto
from app.models import AuditEvent, RecoveryCode, User
from tests.auth.conftest import PASSWORD, login
from tests.fixtures.factories import add_member, bearer, make_group, make_user, user_headers
from tests.fixtures.mail import mails_to


async def enrol(client: httpx.AsyncClient, headers: dict[str, str], frozen) -> tuple[str, list[str]]:
    """Enrol and confirm; returns the secret and the recovery codes. Moves the clock past the code it used."""
    enrolment = await client.post("/v1/me/two-factor", headers=headers)
    assert enrolment.status_code == 201, enrolment.text
    secret = enrolment.json()["secret"]
    confirmed = await client.post("/v1/me/two-factor/confirm", headers=headers, json={"code": totp.code_at(secret, frozen.now)})
    assert confirmed.status_code == 200, confirmed.text
    frozen.now += timedelta(seconds=30)
    return secret, confirmed.json()["recovery_codes"]


async def test_enrolment_gives_an_otpauth_uri_and_keeps_the_secret_encrypted(client: httpx.AsyncClient, db: AsyncSession, person, frozen) -> None:
    # rule A6: enrolment; the secret is encrypted at rest
    headers = await user_headers(db, person)
    response = await client.post("/v1/me/two-factor", headers=headers)
    assert response.status_code == 201
    body = response.json()
    assert body["otpauth_uri"].startswith("otpauth://totp/Caseload:grace%40example.com?secret=")
    assert "issuer=Caseload" in body["otpauth_uri"]
    stored = await db.scalar(select(User.totp_secret_encrypted).where(User.id == person.id))
    assert body["secret"].encode() not in stored
    assert crypto.decrypt(stored, purpose="totp_secret") == body["secret"]
    # Not on until confirmed: logging in still takes the password alone.
    assert (await login(client, "grace@example.com", PASSWORD)).status_code == 200
    wrong = await client.post("/v1/me/two-factor/confirm", headers=headers, json={"code": "000000"})
    assert wrong.status_code == 409 and wrong.json()["code"] == "invalid_otp"


async def test_the_full_cycle(client: httpx.AsyncClient, db: AsyncSession, person, frozen) -> None:
    # rule A6: enrol, confirm, two-step login, codes not replayed, recovery code once, disable
    other_login = await user_headers(db, person)
    headers = await user_headers(db, person)
    secret, recovery = await enrol(client, headers, frozen)
    assert len(recovery) == 10 and len(set(recovery)) == 10
    assert (await client.get("/v1/me", headers=other_login)).status_code == 401  # password-only logins end
    me = await client.get("/v1/me", headers=headers)
    assert me.status_code == 200 and me.json()["user"]["two_factor_enabled"] is True
    assert (await client.get("/v1/me/two-factor", headers=headers)).json() == {"enabled": True, "recovery_codes_left": 10}
    stored = (await db.scalars(select(RecoveryCode.code_hash).where(RecoveryCode.user_id == person.id))).all()
    assert all(code.encode() not in b"".join(stored) for code in recovery)  # hashed

    # The password alone now answers a challenge, not a token.
    first = await login(client, "grace@example.com", PASSWORD)
    assert first.status_code == 401
    problem = first.json()
    assert problem["code"] == "otp_required" and problem["challenge_token"].startswith("clc_")
    assert "access_token" not in problem
    code = totp.code_at(secret, frozen.now)
    second = await client.post("/v1/auth/token/two-factor", json={"challenge_token": problem["challenge_token"], "code": code})
    assert second.status_code == 200, second.text
    assert (await client.get("/v1/me", headers=bearer(second.json()["access_token"]))).status_code == 200

    # The same code, within its window, is refused (no replay), even with a fresh challenge.
    replay_challenge = (await login(client, "grace@example.com", PASSWORD)).json()["challenge_token"]
    replay = await client.post("/v1/auth/token/two-factor", json={"challenge_token": replay_challenge, "code": code})
    assert replay.status_code == 401 and replay.json()["code"] == "invalid_otp"
    # The challenge is single use too.
    assert (await client.post("/v1/auth/token/two-factor", json={"challenge_token": problem["challenge_token"], "code": code})).json()["code"] == "challenge_invalid"

    # A recovery code works once.
    assert (await client.post("/v1/auth/token/two-factor", json={"challenge_token": replay_challenge, "code": recovery[0].upper()})).status_code == 200
    again = (await login(client, "grace@example.com", PASSWORD)).json()["challenge_token"]
    spent = await client.post("/v1/auth/token/two-factor", json={"challenge_token": again, "code": recovery[0]})
    assert spent.status_code == 401
    assert (await client.get("/v1/me/two-factor", headers=headers)).json()["recovery_codes_left"] == 9

    # Disable with a code; the password alone works again.
    frozen.now += timedelta(seconds=30)
    wrong = await client.post("/v1/me/two-factor/disable", headers=headers, json={"code": "123456"})
    assert wrong.status_code == 409
    disabled = await client.post("/v1/me/two-factor/disable", headers=headers, json={"code": totp.code_at(secret, frozen.now)})
    assert disabled.status_code == 204
    assert (await login(client, "grace@example.com", PASSWORD)).status_code == 200
    assert await db.scalar(select(RecoveryCode.id).where(RecoveryCode.user_id == person.id)) is None
    actions = (await db.scalars(select(AuditEvent.action).where(AuditEvent.target_id == str(person.id)))).all()
    assert {"two_factor.enabled", "two_factor.recovery_code_used", "two_factor.disabled"} <= set(actions)
    assert {"two_factor_changed"} == {m.template for m in await mails_to(db, "grace@example.com")}


async def test_swagger_ui_can_log_in_with_the_code_as_otp_or_after_the_password(client: httpx.AsyncClient, db: AsyncSession, person, frozen) -> None:
    # rule A6: the OAuth2 password flow still works with two-factor
    secret, _ = await enrol(client, await user_headers(db, person), frozen)
    with_field = await login(client, "grace@example.com", PASSWORD, otp=totp.code_at(secret, frozen.now))
    assert with_field.status_code == 200, with_field.text
    frozen.now += timedelta(seconds=30)
    appended = await login(client, "grace@example.com", PASSWORD + totp.code_at(secret, frozen.now))
    assert appended.status_code == 200, appended.text
    frozen.now += timedelta(seconds=30)
    wrong = await login(client, "grace@example.com", PASSWORD, otp="000000")
    assert wrong.status_code == 401 and wrong.json()["code"] == "invalid_otp"


async def test_codes_from_a_minute_ago_are_refused(client: httpx.AsyncClient, db: AsyncSession, person, frozen) -> None:
    # rule A6 (RFC 6238): one step of drift either way, no more
    secret, _ = await enrol(client, await user_headers(db, person), frozen)
    frozen.now += timedelta(seconds=60)  # the steps just before now were never used
    old = totp.code_at(secret, frozen.now - timedelta(seconds=60))
    assert (await login(client, "grace@example.com", PASSWORD, otp=old)).status_code == 401
    previous = totp.code_at(secret, frozen.now - timedelta(seconds=30))
    if previous != old:
        assert (await login(client, "grace@example.com", PASSWORD, otp=previous)).status_code == 200


async def test_wrong_codes_count_as_failed_logins(client: httpx.AsyncClient, db: AsyncSession, person, frozen) -> None:
    # rules A6 and A8: someone holding the password cannot try every code
    await enrol(client, await user_headers(db, person), frozen)
    for _ in range(5):
        assert (await login(client, "grace@example.com", PASSWORD, otp="000000")).status_code == 401
    assert (await login(client, "grace@example.com", PASSWORD, otp="000000")).status_code == 429


async def test_staff_without_two_factor_get_a_login_good_only_for_enrolling(client: httpx.AsyncClient, db: AsyncSession, frozen) -> None:
    # rule A6: required for staff
    from app.core.passwords import hash_password

    await make_user(db, email="ops@caseload.example", is_staff=True, password_hash=await hash_password(PASSWORD))
    token = (await login(client, "ops@caseload.example", PASSWORD)).json()["access_token"]
    headers = bearer(token)
    assert (await client.get("/v1/me", headers=headers)).status_code == 200
    refused = await client.post("/v1/ops/settlements", headers=headers)
    assert refused.status_code == 403
    assert refused.json()["code"] == "two_factor_required"
    assert "/v1/me/two-factor" in refused.json()["detail"]
    assert (await client.get("/v1/groups", headers=headers)).status_code == 403
    secret, _ = await enrol(client, headers, frozen)
    assert (await client.post("/v1/ops/settlements", headers=headers)).status_code == 202  # this login is now a full one
    # and staff keep it
    kept = await client.post("/v1/me/two-factor/disable", headers=headers, json={"code": totp.code_at(secret, frozen.now)})
    assert kept.status_code == 409 and kept.json()["code"] == "two_factor_required_for_staff"


async def test_a_group_can_require_two_factor_of_its_owner_and_admins(client: httpx.AsyncClient, db: AsyncSession, frozen) -> None:
    # rule A6: the group setting; the owner and admins enrol before their admin capabilities work
    from app.memberships.service import ensure_membership, make_provider

    owner = await make_user(db, first_name="Olive")
    group = await make_group(db, owner=owner)
    admin = await make_user(db, first_name="Adam")
    await add_member(db, group, admin, admin=True)
    provider_admin = await make_user(db, first_name="Petra")
    await make_provider(db, group, provider_admin, "LPC")
    await ensure_membership(db, group.id, provider_admin.id, is_admin=True)
    provider = await make_user(db, first_name="Pat")
    await add_member(db, group, provider, provider=True)
    owner_headers, admin_headers = await user_headers(db, owner), await user_headers(db, admin)
    settings_url = f"/v1/groups/{group.id}/settings"
    # Whoever turns it on has it already: nobody locks themselves out of the switch.
    too_soon = await client.patch(settings_url, headers=owner_headers, json={"require_two_factor_for_admins": True})
    assert too_soon.status_code == 409 and too_soon.json()["code"] == "enrol_two_factor_first"
    await enrol(client, owner_headers, frozen)
    turned_on = await client.patch(settings_url, headers=owner_headers, json={"require_two_factor_for_admins": True})
    assert turned_on.status_code == 200 and turned_on.json()["require_two_factor_for_admins"] is True
    audited = await db.scalar(
        select(AuditEvent.details).where(AuditEvent.action == "group_settings.updated", AuditEvent.group_id == group.id)
    )
    assert audited == {"fields": ["require_two_factor_for_admins"]}

    refused = await client.get(settings_url, headers=admin_headers)
    assert refused.status_code == 403
    assert refused.json()["code"] == "two_factor_required"
    assert "POST /v1/me/two-factor" in refused.json()["detail"]
    # Provider work is not admin power: a provider-admin without two-factor keeps their own work.
    petra = await user_headers(db, provider_admin)
    assert (await client.get(settings_url, headers=petra)).json()["code"] == "two_factor_required"
    assert (await client.get(f"/v1/groups/{group.id}/clients", headers=petra)).status_code == 200
    # A provider without admin rights gets the ordinary refusal, not an invitation to enrol.
    assert (await client.get(settings_url, headers=await user_headers(db, provider))).json()["code"] == "forbidden"

    await enrol(client, admin_headers, frozen)
    assert (await client.get(settings_url, headers=admin_headers)).status_code == 200
    turned_off = await client.patch(settings_url, headers=admin_headers, json={"require_two_factor_for_admins": False})
    assert turned_off.status_code == 200
    assert (await client.get(settings_url, headers=petra)).status_code == 200  # nobody needs it now


async def test_only_people_with_group_edit_change_the_requirement(client: httpx.AsyncClient, db: AsyncSession) -> None:
    # rule A6 and the capability table: a partner key does not decide who must enrol
    from tests.fixtures.factories import api_key

    group = await make_group(db)
    key = await api_key(db, group)
    response = await client.patch(f"/v1/groups/{group.id}/settings", headers=bearer(key), json={"require_two_factor_for_admins": True})
    assert response.status_code == 403
