from typing import Annotated

from fastapi import Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm

from app.auth import schemas, service
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


@auth_router.post("/signup", status_code=202, responses=problem_responses(422), **allowed(PUBLIC))
async def signup(body: schemas.SignupRequest, db: DB, settings: SettingsDep) -> schemas.Accepted:
    """Create an account; a verification link is mailed (the answer never tells whether the email was taken)."""
    await service.signup(
        db, settings, email=body.email, password=body.password, first_name=body.first_name, last_name=body.last_name
    )
    return schemas.Accepted(detail=_ACCEPTED)


@auth_router.post(
    "/verify-email", status_code=204, responses=problem_responses(404, 409, 410, 422), **allowed(PUBLIC)
)
async def verify_email(body: schemas.VerifyEmailRequest, db: DB) -> None:
    """Verify an email address with the single-use token from the verification link."""
    await service.verify_email(db, body.token)


@auth_router.post(
    "/accept-invitation", status_code=204, responses=problem_responses(404, 409, 410, 422), **allowed(PUBLIC)
)
async def accept_invitation(body: schemas.AcceptInvitationRequest, db: DB) -> None:
    """Accept an invitation (from a group's owner or admin): choose a password; the email is verified with it."""
    await service.verify_email(db, body.token, password=body.password)


@auth_router.post("/resend-verification", status_code=202, responses=problem_responses(422), **allowed(PUBLIC))
async def resend_verification(body: schemas.ResendVerificationRequest, db: DB, settings: SettingsDep) -> schemas.Accepted:
    """Mail a new verification link to an account that is not verified yet."""
    await service.resend_verification(db, settings, body.email)
    return schemas.Accepted(detail=_ACCEPTED)


@auth_router.post("/token", responses=problem_responses(401, 422, 429), **allowed(PUBLIC))
async def issue_token(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    db: DB,
    redis: RedisDep,
    settings: SettingsDep,
) -> schemas.TokenResponse:
    """Log in with email (`username`) and password; returns an opaque bearer token."""
    try:
        token, expires_at = await service.login(
            db, redis, settings, email=form.username, password=form.password, ip=client_ip(request.scope)
        )
    except service.LoginFailed:
        # Returned, not raised: the failed attempt's audit record must commit.
        return problem_response(
            401, "invalid_credentials", "The email or password is wrong.", headers={"WWW-Authenticate": "Bearer"}
        )
    return schemas.TokenResponse(access_token=token, expires_at=expires_at)


@auth_router.post("/logout", status_code=204, responses=problem_responses(401, 403), **allowed(PERSON))
async def logout(actor: PersonActor, db: DB) -> None:
    """End the current login session: its token stops working at once."""
    await service.logout(db, actor)


@me_router.get("/me", response_model=schemas.MeResponse, responses=problem_responses(401), **allowed(AUTHENTICATED))
async def read_me(actor: CurrentActor) -> Response:
    """Who the caller is, and their groups with their roles in each."""
    return json_response(schemas.me_document(actor))

