"""C6: a client's estimated cost per session, for the provider who sees them.

Reading it reads PHI (the client's plan), so every read is audited (R2) with ids only.
"""

import uuid
from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.clients.access import visible_client
from app.clients.readiness_loader import shown_insurance
from app.core import audit
from app.core.auth import Actor
from app.core.authz import Capability, Grant, Reach, require
from app.core.errors import Problem, conflict
from app.estimates import pricing
from app.models import Client, Membership, Rate, RosterEntry
from app.practice.service import rate_for


@dataclass(frozen=True, slots=True)
class EstimateView:
    client: Client
    provider_user_id: uuid.UUID
    rate: Rate
    estimate: pricing.Estimate


def _not_a_provider() -> Problem:
    return Problem(
        422,
        "validation_failed",
        "Some fields are missing or invalid; see `errors`.",
        title="Unprocessable Content",
        errors=[{"field": "query.provider_id", "message": "is not an active provider of this group"}],
    )


async def _provider_for(
    db: AsyncSession, actor: Actor, grant: Grant, client: Client, provider_id: uuid.UUID | None
) -> uuid.UUID:
    """The provider whose rate prices the session: the one asked for, else the caller when they see the
    client, else the client's first provider (by when they were added to the roster)."""
    if provider_id is not None:
        # A provider prices their own sessions only; an admin, any provider's of the group.
        require(actor, Capability.CLIENTS, client.group_id, provider_user_id=provider_id)
        active = await db.scalar(
            select(
                exists().where(
                    Membership.group_id == client.group_id,
                    Membership.user_id == provider_id,
                    Membership.is_provider,
                    Membership.ended_at.is_(None),
                )
            )
        )
        if not active:
            raise _not_a_provider()
        return provider_id
    if grant.reach is Reach.OWN:
        assert actor.user_id is not None
        return actor.user_id
    providers = list(
        await db.scalars(
            select(RosterEntry.provider_user_id)
            .where(RosterEntry.client_id == client.id, RosterEntry.archived_at.is_(None))
            .order_by(RosterEntry.added_at, RosterEntry.id)
        )
    )
    if actor.user_id in providers:
        return actor.user_id  # type: ignore[return-value]
    if providers:
        return providers[0]
    raise conflict(
        "provider_required",
        "The client is on no provider's active roster: pass provider_id to price a session with one of the group's providers.",
    )


async def estimate(
    db: AsyncSession,
    actor: Actor,
    group_id: uuid.UUID,
    client_id: uuid.UUID,
    *,
    service_code: str,
    provider_id: uuid.UUID | None = None,
) -> EstimateView:
    client, grant = await visible_client(db, actor, group_id, client_id)
    provider_user_id = await _provider_for(db, actor, grant, client, provider_id)
    rate = await rate_for(db, group_id, provider_user_id, service_code)
    if rate is None:
        raise Problem(
            404,
            "rate_not_found",
            f"No rate is set for service code {service_code.upper()} for this provider or as the group's default. "
            f"An admin of the group sets one with PUT /v1/groups/{group_id}/rates.",
            service_code=service_code.upper(),
            provider_user_id=str(provider_user_id),
        )
    plan = None
    if client.billing_type == "insurance":
        # C8: the plan this practice may see (the person's own once they accepted, else its own copy).
        policy = (await shown_insurance(db, [client]))[client.id]
        plan = pricing.Plan(copay_cents=policy.copay_cents, coinsurance_bp=policy.coinsurance_bp) if policy else None
    result = pricing.estimate_session_cost(
        client.billing_type,
        private_pay_rate_cents=rate.private_pay_cents,
        contracted_rate_cents=rate.insurance_cents,
        plan=plan,
    )
    await audit.record(
        db, actor, "client.estimate_read", target_type="client", target_id=client.id, group_id=group_id,
        provider_user_id=str(provider_user_id),
    )
    return EstimateView(client=client, provider_user_id=provider_user_id, rate=rate, estimate=result)
