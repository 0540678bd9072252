"""C6 arithmetic (pure): copay capped at the contracted rate, coinsurance rounded half up to the cent,
the private-pay rate, and no estimate without what it needs."""

from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.estimates.pricing import (
    Estimate,
    Plan,
    coinsurance_share,
    estimate_session_cost,
)


def insurance(plan: Plan | None, contracted: int = 11250) -> Estimate:
    return estimate_session_cost("insurance", private_pay_rate_cents=15000, contracted_rate_cents=contracted, plan=plan)


def test_a_copay_is_what_the_client_pays_never_more_than_the_contracted_rate() -> None:
    # rule C6
    assert insurance(Plan(copay_cents=3000, coinsurance_bp=None)) == Estimate(3000, "copay", contracted_rate_cents=11250, copay_cents=3000)
    capped = insurance(Plan(copay_cents=20000, coinsurance_bp=None))
    assert (capped.estimate_cents, capped.basis, capped.copay_cents) == (11250, "copay", 20000)
    assert insurance(Plan(copay_cents=0, coinsurance_bp=None)).estimate_cents == 0


def test_coinsurance_is_a_share_of_the_contracted_rate_rounded_half_up() -> None:
    # rule C6
    assert insurance(Plan(copay_cents=None, coinsurance_bp=2000)) == Estimate(2250, "coinsurance", contracted_rate_cents=11250, coinsurance_bp=2000)
    assert coinsurance_share(101, 5000) == 51  # 50.5 -> 51
    assert coinsurance_share(11250, 1234) == 1388  # 1388.25 -> 1388
    assert coinsurance_share(12345, 1) == 1  # 1.2345 -> 1
    assert coinsurance_share(10001, 5) == 5  # 5.0005 -> 5
    assert coinsurance_share(11250, 0) == 0 and coinsurance_share(11250, 10000) == 11250


@given(rate=st.integers(0, 10_000_000), bp=st.integers(0, 10_000))
def test_coinsurance_matches_decimal_half_up_rounding(rate: int, bp: int) -> None:
    exact = Decimal(rate) * Decimal(bp) / Decimal(10_000)
    assert coinsurance_share(rate, bp) == int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    assert 0 <= coinsurance_share(rate, bp) <= rate


def test_private_pay_is_the_providers_rate() -> None:
    # rule C6
    result = estimate_session_cost("private_pay", private_pay_rate_cents=15000, contracted_rate_cents=11250, plan=Plan(3000, None))
    assert result == Estimate(15000, "private_pay_rate", private_pay_rate_cents=15000)


def test_no_estimate_without_a_plan_or_its_cost_share() -> None:
    no_plan = insurance(None)
    assert (no_plan.estimate_cents, no_plan.basis, no_plan.contracted_rate_cents) == (None, None, 11250)
    assert "No insurance is on file" in (no_plan.reason or "")
    no_share = insurance(Plan(copay_cents=None, coinsurance_bp=None))
    assert no_share.estimate_cents is None and "copay or coinsurance" in (no_share.reason or "")


def test_a_plan_with_both_is_priced_by_its_copay() -> None:
    assert insurance(Plan(copay_cents=2500, coinsurance_bp=2000)).basis == "copay"


@pytest.mark.parametrize(
    "call",
    [
        lambda: coinsurance_share(-1, 100),
        lambda: coinsurance_share(100, 10001),
        lambda: estimate_session_cost("barter", private_pay_rate_cents=1, contracted_rate_cents=1, plan=None),
        lambda: estimate_session_cost("insurance", private_pay_rate_cents=-1, contracted_rate_cents=1, plan=None),
        lambda: insurance(Plan(copay_cents=-5, coinsurance_bp=None)),
    ],
)
def test_impossible_inputs_are_errors(call) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError):
        call()
