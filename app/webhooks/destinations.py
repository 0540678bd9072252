"""Where a webhook may be sent: https to a public address (outside development and tests).

An endpoint URL naming a private, loopback, link-local or otherwise non-global address would let a caller
make our workers reach the internal network (SSRF). The name is resolved when the endpoint is saved and again
before each delivery (a name can be re-pointed later); redirects are never followed.
"""

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from app.core.errors import Problem


class RefusedDestination(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def check_url_form(url: str, *, allow_private: bool) -> str:
    """The URL's host, when its form is acceptable; raises RefusedDestination otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise RefusedDestination("it is not a valid URL") from exc
    allowed_schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in allowed_schemes:
        raise RefusedDestination("it must start with https://")
    if not parts.hostname:
        raise RefusedDestination("it has no host name")
    if parts.username or parts.password:
        raise RefusedDestination("it must not carry a user name or password")
    if parts.fragment:
        raise RefusedDestination("it must not have a #fragment")
    if port == 0:
        raise RefusedDestination("port 0 cannot be reached")
    return parts.hostname


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


async def check_destination(url: str, *, allow_private: bool) -> None:
    """Raises RefusedDestination unless `url` may receive webhooks."""
    host = check_url_form(url, allow_private=allow_private)
    if allow_private:
        return
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise RefusedDestination("its host name does not resolve") from exc
        addresses = [str(info[4][0]) for info in infos]
    if not addresses or not all(_is_public(a) for a in addresses):
        raise RefusedDestination("it points to a private, loopback or reserved address")


def refused_url(reason: str) -> Problem:
    return Problem(
        422,
        "webhook_url_refused",
        f"The webhook URL was refused: {reason}. Give an https:// URL of a server reachable on the public internet.",
        errors=[{"field": "body.url", "message": reason, "type": "webhook_url_refused"}],
    )
