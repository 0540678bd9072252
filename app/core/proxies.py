"""Which address a request came from (A8): `X-Forwarded-For` is believed only from `TRUSTED_PROXIES`.

Without this, anyone could name a fresh address per request and get a fresh login budget, or (behind
a load balancer that is not declared) every person would share the balancer's one budget.
uvicorn's own `forwarded_allow_ips` is set from the same list (`caseload serve`); applying the rule
here too keeps in-process callers (tests, other servers) honest, and gives the same answer when
uvicorn has already rewritten the peer.
"""

import ipaddress
from functools import lru_cache

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(cidr.strip(), strict=False) for cidr in cidrs if cidr.strip())


def _trusted(address: str, trusted: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


def forwarded_client(peer: str, forwarded_for: str | None, trusted: tuple[Network, ...]) -> str:
    """The nearest address in the chain that is not a trusted proxy (the leftmost when all are)."""
    if not forwarded_for or not _trusted(peer, trusted):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, trusted):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # garbage in the header: keep the proxy's own address
    return hops[0] if hops else peer
