"""Who is at the other end of a request: the client's address, and a keyed hash of its network."""

from __future__ import annotations

import ipaddress

from aiohttp import web

from bot.crypto import DataProtector

CLIENT_KIND = "web-client"  # blind-index kind of client networks
IPV6_NETWORK = 64  # one home or phone holds a whole /64: its addresses count as one client


def client_address(request: web.Request) -> str:
    """The client's address; behind a proxy on this machine, the one the proxy forwarded."""
    remote = request.remote or ""
    forwarded = request.headers.get("X-Forwarded-For", "")
    if forwarded and _is_loopback(remote):
        return forwarded.rsplit(",", 1)[-1].strip()
    return remote


def client_key(request: web.Request, protector: DataProtector) -> str:
    """A keyed hash of the client's network (IPv4 address, IPv6 /64); never the address itself."""
    address = client_address(request)
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        network = address
    else:
        network = (
            str(ipaddress.ip_network(f"{parsed}/{IPV6_NETWORK}", strict=False))
            if parsed.version == 6
            else str(parsed)
        )
    return protector.blind_index(CLIENT_KIND, network)


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False
