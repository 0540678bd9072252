import uuid
from typing import Annotated

from fastapi import Depends, Form, Request, Response
from fastapi.security import OAuth2PasswordRequestForm

from app.auth import logins, passwords, schemas, service, two_factor
from app.config import Settings, get_settings
from app.core.auth import CurrentActor, PersonActor
from app.core.db import DB
from app.core.errors import problem_response, problem_responses
from app.core.middleware import client_ip
from app.core.redis import RedisDep
from app.core.responses import json_response
from app.core.routing import AUTHENTICATED, PERSON, PUBLIC, allowed, router

auth_router = router("/v1/auth", "auth")
me_router = router("/v1", "me")
SettingsDep = Annotated[Settings, Depends(get_settings)]
_ACCEPTED = "If the address can receive mail, a message is on its way. Follow its link to continue."


@auth_router.post("/signup", summary="Create an account", status_code=202, responses=problem_responses(422), **allowed(PUBLIC))
async def signup(body: schemas.SignupRequest, db: DB, settings: SettingsDep) -> schemas.Accepted:
    """Create an account; a verification link is mailed (the answer never tells whether the email was taken)."""
    await service.signup(
        db, settings, email=body.email, password=body.password, first_name=body.first_name, last_name=body.last_name
    )
    return schemas.Accepted(detail=_ACCEPTED)


@auth_router.post(
    "/verify-email", summary="Verify an email address", status_code=204, responses=problem_responses(404, 409, 410, 422), **allowed(PUBLIC)
)
async def verify_email(body: schemas.VerifyEmailRequest, db: DB) -> None:
    """Verify an email address with the single-use token from the verification link."""
    await service.verify_email(db, body.token)


@auth_router.post(
    "/accept-invitation", summary="Accept an invitation and set a password", status_code=204, responses=problem_responses(404, 409, 410, 422), **allowed(PUBLIC)
)
async def accept_invitation(body: schemas.AcceptInvitationRequest, db: DB) -> None:
    """Accept an invitation (from a group's owner or admin): choose a password; the email is verified with it."""
    await service.verify_email(db, body.token, password=body.password)


@auth_router.post("/resend-verification", summary="Resend the verification email", status_code=202, responses=problem_responses(422), **allowed(PUBLIC))
async def resend_verification(body: schemas.ResendVerificationRequest, db: DB, settings: SettingsDep) -> schemas.Accepted:
    """Mail a new verification link to an account that is not verified yet."""
    await service.resend_verification(db, settings, body.email)
    return schemas.Accepted(detail=_ACCEPTED)


@auth_router.post(
    "/token", summary="Log in", response_model=schemas.TokenResponse, responses=problem_responses(401, 422, 429, 503), **allowed(PUBLIC)
)
async def issue_token(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    db: DB,
    redis: RedisDep,
    settings: SettingsDep,
    otp: Annotated[
        str | None,
        Form(max_length=24, description="The two-factor code, when the account has two-factor sign-in."),
    ] = None,
) -> Response:
    """Log in with email (`username`) and password; returns an opaque bearer token.

    With two-factor sign-in on, send the code as `otp`, or type it right after the password (Swagger UI's
    Authorize dialog has no field for it: password `my long password123456`). Without a code the answer is
    a 401 `otp_required` with a `challenge_token` (valid a few minutes): post it with the code to
    `POST /v1/auth/token/two-factor`. Repeated failures answer 429 with `Retry-After`; when the attempt
    counter is unreachable, 503 `throttle_unavailable` with `Retry-After`."""
    try:
        token, expires_at = await service.login(
            db, redis, settings, email=form.username, password=form.password, otp=otp,
            ip=client_ip(request.scope), user_agent=request.headers.get("user-agent"),
        )
    except service.LoginFailed as failed:
        return _login_refused(failed)
    except service.SecondFactorNeeded as needed:
        return problem_response(
            401,
            "otp_required",
            "This account has two-factor sign-in: post challenge_token and the code from the authenticator to "
            "POST /v1/auth/token/two-factor, or send the code as `otp` with the password.",
            headers={"WWW-Authenticate": "Bearer"},
            challenge_token=needed.challenge,
            challenge_expires_at=needed.expires_at.isoformat(),
        )
    return json_response(schemas.TokenResponse(access_token=token, expires_at=expires_at).model_dump(mode="json"))


def _login_refused(failed: "service.LoginFailed") -> Response:
    # Returned, not raised: the failed attempt's audit record must commit.
    if failed.code == "invalid_otp":
        return problem_response(
            401, "invalid_otp", "The two-factor code is wrong or was already used. Enter the current code, or a recovery code.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return problem_response(
        401, "invalid_credentials", "The email or password is wrong.", headers={"WWW-Authenticate": "Bearer"}
    )


@auth_router.post(
    "/token/two-factor", summary="Log in with a two-factor code", response_model=schemas.TokenResponse, responses=problem_responses(401, 422, 429, 503), **allowed(PUBLIC)
)
async def issue_token_with_code(
    request: Request, body: schemas.SecondFactorLogin, db: DB, redis: RedisDep, settings: SettingsDep
) -> Response:
    """Second step of a two-factor login: the `challenge_token` from `POST /v1/auth/token` and a code
    (authenticator or recovery code) give the bearer token. A code works once."""
    try:
        token, expires_at = await service.complete_login(
            db, redis, settings, challenge=body.challenge_token, code=body.code,
            ip=client_ip(request.scope), user_agent=request.headers.get("user-agent"),
        )
    except service.LoginFailed as failed:
        return _login_refused(failed)
    return json_response(schemas.TokenResponse(access_token=token, expires_at=expires_at).model_dump(mode="json"))


@auth_router.post("/password-reset", summary="Request a password reset email", status_code=202, responses=problem_responses(422, 429, 503), **allowed(PUBLIC))
async def request_password_reset(
    request: Request, body: schemas.PasswordResetRequest, db: DB, redis: RedisDep, settings: SettingsDep
) -> schemas.Accepted:
    """Mail a link to choose a new password (single use, valid 30 minutes). The answer is the same whether
    or not the email has an account. A few mails an hour per address at most; many requests from one
    client answer 429 with `Retry-After`."""
    await passwords.request_reset(db, redis, settings, body.email, ip=client_ip(request.scope))
    return schemas.Accepted(detail=_ACCEPTED)


@auth_router.post(
    "/password-reset/confirm", summary="Set a new password from a reset link", status_code=204, responses=problem_responses(404, 409, 410, 422, 503), **allowed(PUBLIC)
)
async def confirm_password_reset(body: schemas.PasswordResetConfirm, db: DB, redis: RedisDep, settings: SettingsDep) -> None:
    """Choose a new password with the token from the reset link. Every login of the account ends, and the
    person is told by mail. Two-factor sign-in, when on, stays on."""
    await passwords.confirm_reset(db, redis, settings, body.token, body.new_password)


@auth_router.post("/logout-everywhere", summary="Log out everywhere", status_code=204, responses=problem_responses(401, 403), **allowed(PERSON))
async def logout_everywhere(actor: PersonActor, db: DB) -> None:
    """End every login of the caller's account, this one included."""
    await logins.logout_everywhere(db, actor)


@auth_router.post("/logout", summary="Log out", status_code=204, responses=problem_responses(401, 403), **allowed(PERSON))
async def logout(actor: PersonActor, db: DB) -> None:
    """End the current login session: its token stops working at once."""
    await service.logout(db, actor)


@me_router.get("/me", summary="Get the current caller", response_model=schemas.MeResponse, responses=problem_responses(401), **allowed(AUTHENTICATED))
async def read_me(actor: CurrentActor) -> Response:
    """Who the caller is, and their groups with their roles in each."""
    return json_response(schemas.me_document(actor))



@me_router.post("/me/password", summary="Change your password", status_code=204, responses=problem_responses(401, 403, 409, 422, 429, 503), **allowed(PERSON))
async def change_password(
    request: Request, body: schemas.PasswordChange, actor: PersonActor, db: DB, redis: RedisDep, settings: SettingsDep
) -> Response:
    """Change the password, giving the current one. Every other login of the account ends (this one stays),
    and the person is told by mail. A wrong current password is 409 `current_password_wrong`."""
    try:
        await passwords.change_password(
            db, redis, settings, actor, current=body.current_password, new=body.new_password, ip=client_ip(request.scope)
        )
    except passwords.CurrentPasswordWrong:
        # Returned, not raised: the failed attempt's audit record must commit.
        return problem_response(
            409, "current_password_wrong", "The current password is wrong. Enter it again, or reset it by mail."
        )
    return Response(status_code=204)


@me_router.get("/me/logins", summary="List your logins", response_model=schemas.LoginList, responses=problem_responses(401, 403), **allowed(PERSON))
async def list_logins(actor: PersonActor, db: DB, settings: SettingsDep) -> Response:
    """The caller's active logins, most recently used first: when each began and was last used, the address
    and browser it came from; `current` marks the one making this request."""
    return json_response({"items": await logins.list_logins(db, settings, actor), "next_cursor": None})


@me_router.delete("/me/logins/{login_id}", summary="End one of your logins", status_code=204, responses=problem_responses(401, 403, 404), **allowed(PERSON))
async def end_login(login_id: uuid.UUID, actor: PersonActor, db: DB) -> None:
    """End one of the caller's logins: its token stops working at once."""
    await logins.end_login(db, actor, login_id)


@me_router.get("/me/two-factor", summary="Get your two-factor status", response_model=schemas.TwoFactorStatus, responses=problem_responses(401, 403), **allowed(PERSON))
async def read_two_factor(actor: PersonActor, db: DB) -> schemas.TwoFactorStatus:
    """Whether two-factor sign-in is on, and how many recovery codes are left."""
    enabled, left = await two_factor.status(db, actor)
    return schemas.TwoFactorStatus(enabled=enabled, recovery_codes_left=left)


@me_router.post(
    "/me/two-factor", summary="Start two-factor enrolment", status_code=201, response_model=schemas.TwoFactorEnrolment, responses=problem_responses(401, 403, 409), **allowed(PERSON)
)
async def enrol_two_factor(actor: PersonActor, db: DB) -> schemas.TwoFactorEnrolment:
    """Start two-factor enrolment: a new secret and its `otpauth://` URI for an authenticator app (RFC 6238,
    30-second codes). Nothing changes at login until it is confirmed with a first code."""
    secret, uri = await two_factor.enrol(db, actor)
    return schemas.TwoFactorEnrolment(secret=secret, otpauth_uri=uri)


@me_router.post(
    "/me/two-factor/confirm", summary="Turn two-factor sign-in on", response_model=schemas.RecoveryCodes, responses=problem_responses(401, 403, 409, 422), **allowed(PERSON)
)
async def confirm_two_factor(body: schemas.TwoFactorCode, actor: PersonActor, db: DB, settings: SettingsDep) -> schemas.RecoveryCodes:
    """Turn two-factor sign-in on with a first code from the authenticator. Answers ten recovery codes, shown
    this once. Every other login of the account ends; this one stays."""
    return schemas.RecoveryCodes(recovery_codes=await two_factor.confirm(db, settings, actor, body.code))


@me_router.post(
    "/me/two-factor/recovery-codes", summary="Replace your recovery codes", response_model=schemas.RecoveryCodes, responses=problem_responses(401, 403, 409, 422), **allowed(PERSON)
)
async def replace_recovery_codes(body: schemas.TwoFactorCode, actor: PersonActor, db: DB) -> schemas.RecoveryCodes:
    """Replace the recovery codes (the old ones stop working), given a current code."""
    return schemas.RecoveryCodes(recovery_codes=await two_factor.regenerate_recovery_codes(db, actor, body.code))


@me_router.post(
    "/me/two-factor/disable", summary="Turn two-factor sign-in off", status_code=204, responses=problem_responses(401, 403, 409, 422), **allowed(PERSON)
)
async def disable_two_factor(body: schemas.TwoFactorCode, actor: PersonActor, db: DB, settings: SettingsDep) -> None:
    """Turn two-factor sign-in off, given a current code or a recovery code. Staff accounts keep it."""
    await two_factor.disable(db, settings, actor, body.code)
