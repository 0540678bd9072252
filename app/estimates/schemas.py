import uuid
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from app.estimates.service import EstimateView


class EstimateInputs(BaseModel):
    """What the estimate was computed from; null where it played no part."""

    contracted_rate_cents: int | None = Field(None, description="The provider's insurance contracted rate.")
    private_pay_rate_cents: int | None = Field(None, description="The provider's private-pay rate.")
    copay_cents: int | None = Field(None, description="The plan's copay.")
    coinsurance_percent: float | None = Field(None, description="The plan's coinsurance, percent of the contracted rate.")


class EstimateOut(BaseModel):
    client_id: uuid.UUID
    provider_user_id: uuid.UUID
    service_code: str
    billing_type: Literal["insurance", "private_pay"]
    estimate_cents: int | None = Field(description="What the client can expect to pay per session; null when it cannot be told (see `reason`).")
    currency: str
    basis: Literal["copay", "coinsurance", "private_pay_rate"] | None
    inputs: EstimateInputs
    reason: str | None = Field(None, description="When there is no estimate: what is missing.")

    @classmethod
    def of(cls, view: "EstimateView") -> "EstimateOut":
        result = view.estimate
        return cls(
            client_id=view.client.id,
            provider_user_id=view.provider_user_id,
            service_code=view.rate.service_code,
            billing_type=view.client.billing_type,  # type: ignore[arg-type]
            estimate_cents=result.estimate_cents,
            currency=view.rate.currency,
            basis=result.basis,
            inputs=EstimateInputs(
                contracted_rate_cents=result.contracted_rate_cents,
                private_pay_rate_cents=result.private_pay_rate_cents,
                copay_cents=result.copay_cents,
                coinsurance_percent=None if result.coinsurance_bp is None else result.coinsurance_bp / 100,
            ),
            reason=result.reason,
        )
