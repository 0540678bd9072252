"""C6: what a client can expect to pay per session, from their plan and the provider's rate. Pure.

Integer cents throughout; a percentage of a rate rounds half up to the cent (never through floats).
"""

from dataclasses import dataclass
from typing import Literal

Basis = Literal["copay", "coinsurance", "private_pay_rate"]
BASIS_POINTS = 10_000  # 100%


@dataclass(frozen=True, slots=True)
class Plan:
    """The cost share of the client's insurance plan: a flat copay, or coinsurance in basis points."""

    copay_cents: int | None
    coinsurance_bp: int | None


@dataclass(frozen=True, slots=True)
class Estimate:
    estimate_cents: int | None
    basis: Basis | None
    contracted_rate_cents: int | None = None
    private_pay_rate_cents: int | None = None
    copay_cents: int | None = None
    coinsurance_bp: int | None = None
    reason: str | None = None  # why there is no estimate: what is missing


def coinsurance_share(rate_cents: int, coinsurance_bp: int) -> int:
    """`coinsurance_bp` of `rate_cents`, rounded half up to a whole cent."""
    if rate_cents < 0 or not 0 <= coinsurance_bp <= BASIS_POINTS:
        raise ValueError("a rate is not negative and coinsurance is 0 to 10000 basis points")
    return (rate_cents * coinsurance_bp + BASIS_POINTS // 2) // BASIS_POINTS


def estimate_session_cost(
    billing_type: str, *, private_pay_rate_cents: int, contracted_rate_cents: int, plan: Plan | None
) -> Estimate:
    """Private pay: the provider's private-pay rate. Insurance: the plan's copay (never more than the
    contracted rate) or its coinsurance share of the contracted rate; no estimate without a plan's cost share.

    A plan with both a copay and coinsurance (the API accepts only one) is priced by its copay.
    """
    if private_pay_rate_cents < 0 or contracted_rate_cents < 0:
        raise ValueError("rates are not negative")
    if billing_type == "private_pay":
        return Estimate(private_pay_rate_cents, "private_pay_rate", private_pay_rate_cents=private_pay_rate_cents)
    if billing_type != "insurance":
        raise ValueError(f"unknown billing type {billing_type!r}")
    if plan is None:
        return Estimate(
            None,
            None,
            contracted_rate_cents=contracted_rate_cents,
            reason="No insurance is on file for this client: the client adds their plan (company, member id, "
            "copay or coinsurance) during onboarding.",
        )
    if plan.copay_cents is not None:
        if plan.copay_cents < 0:
            raise ValueError("a copay is not negative")
        return Estimate(
            min(plan.copay_cents, contracted_rate_cents),
            "copay",
            contracted_rate_cents=contracted_rate_cents,
            copay_cents=plan.copay_cents,
        )
    if plan.coinsurance_bp is not None:
        return Estimate(
            coinsurance_share(contracted_rate_cents, plan.coinsurance_bp),
            "coinsurance",
            contracted_rate_cents=contracted_rate_cents,
            coinsurance_bp=plan.coinsurance_bp,
        )
    return Estimate(
        None,
        None,
        contracted_rate_cents=contracted_rate_cents,
        reason="The client's insurance is on file without its cost share: the client adds the plan's copay "
        "or coinsurance to their insurance.",
    )
