import uuid
from typing import Annotated

from fastapi import Depends, Query, Response

from app.clients import readiness, schemas, service
from app.clients.service import ClientView, RosterStatus
from app.core.auth import CurrentActor
from app.core.authz import Capability
from app.core.db import DB, Reader, get_reader
from app.core.errors import problem_responses
from app.core.idempotency import Idempotent
from app.core.pagination import Page, PageQuery
from app.core.responses import json_response
from app.core.routing import allowed, router

clients_router = router("/v1/groups/{group_id}/clients", "clients")
ERRORS = problem_responses(401, 403, 404, 409, 422)


def client_out(view: ClientView) -> schemas.ClientOut:
    c, insurance = view.client, view.insurance
    items = readiness.checklist(view.facts)
    return schemas.ClientOut(
        id=c.id,
        group_id=c.group_id,
        user_id=c.user_id if c.consented_at is not None else None,
        first_name=c.first_name,
        last_name=c.last_name,
        email=c.email,
        phone=c.phone,
        billing_type=c.billing_type,  # type: ignore[arg-type]
        telehealth_state=c.telehealth_state,
        assessments=c.assessments,
        account_verified=view.account_verified,
        consent="accepted" if c.consented_at is not None else "pending",
        created_at=c.created_at,
        rosters=[schemas.RosterOut(provider_user_id=e.provider_user_id, added_at=e.added_at, archived_at=e.archived_at) for e in view.rosters],
        insurance=(
            schemas.InsuranceSummary(status=insurance.status, company=insurance.company, member_id=f"••••{insurance.member_id_last4}")  # type: ignore[arg-type]
            if insurance is not None
            else schemas.InsuranceSummary(status="none")
        ),
        readiness=schemas.ReadinessOut(
            ready=all(i.done for i in items), items=items, missing=[i.item for i in items if not i.done]
        ),
    )


@clients_router.post("", summary="Add a client", status_code=201, dependencies=[Idempotent], responses=ERRORS, **allowed(Capability.CLIENTS))
async def add_client(group_id: uuid.UUID, body: schemas.ClientCreate, actor: CurrentActor, db: DB) -> schemas.ClientOut:
    """Add a client to a provider's roster. The person is invited: until they accept, you see what you typed
    (the answer is the same whether or not the email has a Caseload account); then what they entered themselves.
    A client the group already has is recognised and added to the roster at once."""
    return client_out(await service.add_client(db, actor, group_id, body))


@clients_router.get(
    "", summary="List clients", response_model=Page[schemas.ClientOut], responses=problem_responses(401, 403, 404, 422), **allowed(Capability.CLIENTS)
)
async def list_clients(
    group_id: uuid.UUID,
    actor: CurrentActor,
    reader: Annotated[Reader, Depends(get_reader)],
    page: PageQuery,
    provider_id: Annotated[uuid.UUID | None, Query(description="One provider's roster (providers: only their own).")] = None,
    status: Annotated[RosterStatus, Query(description="Active, archived or all roster entries.")] = "active",
    q: Annotated[str | None, Query(max_length=100, description="Name or email prefix; 'ann sm' matches first and last name.")] = None,
) -> Response:
    """Clients by name: your roster (providers), or any roster or the whole group (admins)."""
    # No SQLAlchemy session: one statement reads the page and writes its audit row (service.list_clients).
    clients, next_cursor = await service.list_clients(
        reader, actor, group_id, page, provider_id=provider_id, status=status, q=q  # type: ignore[arg-type]
    )
    # Serialised directly (the model documents it), as the members list: 50 nested ClientOut through pydantic
    # cost more than the whole statement.
    return json_response({"items": clients, "next_cursor": next_cursor})


@clients_router.get("/{client_id}", summary="Get a client", responses=problem_responses(401, 403, 404, 422), **allowed(Capability.CLIENTS))
async def read_client(group_id: uuid.UUID, client_id: uuid.UUID, actor: CurrentActor, db: DB) -> schemas.ClientOut:
    """One client, with rosters, insurance status and the readiness checklist (C4)."""
    return client_out(await service.read_client(db, actor, group_id, client_id))


@clients_router.patch("/{client_id}", summary="Update a client", responses=ERRORS, **allowed(Capability.CLIENTS))
async def update_client(
    group_id: uuid.UUID, client_id: uuid.UUID, body: schemas.ClientUpdate, actor: CurrentActor, db: DB
) -> schemas.ClientOut:
    """Edit a client; name, email and phone only until the client has verified their account."""
    return client_out(await service.update_client(db, actor, group_id, client_id, body))


@clients_router.post("/{client_id}/archive", summary="Archive a client from a roster", responses=ERRORS, **allowed(Capability.CLIENTS))
async def archive_client(
    group_id: uuid.UUID, client_id: uuid.UUID, body: schemas.ArchiveRequest, actor: CurrentActor, db: DB
) -> schemas.ClientOut:
    """Archive a client from a roster (add them again to undo); history and documents stay."""
    return client_out(await service.archive_client(db, actor, group_id, client_id, provider_id=body.provider_id))


@clients_router.post("/{client_id}/transfer", summary="Transfer a client to another provider", responses=ERRORS, **allowed(Capability.CLIENTS))
async def transfer_client(
    group_id: uuid.UUID, client_id: uuid.UUID, body: schemas.TransferRequest, actor: CurrentActor, db: DB
) -> schemas.ClientOut:
    """Move a client to another provider of the group in one step: archived from one roster, added to the other (G7)."""
    view = await service.transfer_client(
        db, actor, group_id, client_id, from_provider_id=body.from_provider_id, to_provider_id=body.to_provider_id
    )
    return client_out(view)


@clients_router.post("/{client_id}/welcome-email", summary="Send a client the welcome email", status_code=202, responses=ERRORS, **allowed(Capability.CLIENTS))
async def send_welcome_email(group_id: uuid.UUID, client_id: uuid.UUID, actor: CurrentActor, db: DB) -> schemas.WelcomeEmailQueued:
    """Email a client new to the platform how to get ready: verify, insurance, billing, forms (C3, I10)."""
    await service.send_welcome(db, actor, group_id, client_id)
    return schemas.WelcomeEmailQueued(client_id=client_id)
