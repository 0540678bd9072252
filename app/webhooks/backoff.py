"""When a failed delivery is tried again: exponential backoff with jitter, given up after three days. Pure."""

import random

MAX_DELAY_S = 6 * 3600.0


def retry_delay(attempts: int, *, base_s: float, rng: random.Random | None = None) -> float:
    """Seconds before the next try after `attempts` failed ones: base, 2x, 4x... (capped at six hours), each
    drawn between half and the whole of it so a receiver back from an outage is not hit by every retry at once."""
    ceiling = min(base_s * 2 ** max(attempts - 1, 0), MAX_DELAY_S)
    return (rng or random).uniform(ceiling / 2, ceiling)
