"""Who is asking: the client's address and the origin it called, a proxy believed only if trusted.

Behind a reverse proxy every request comes from the proxy, which names the client in
X-Forwarded-For and the scheme in X-Forwarded-Proto. Anyone can send those headers, so they are
read only from a peer listed in TRUSTED_PROXIES (default: none, so the peer is the client).
"""

from __future__ import annotations

import ipaddress

from aiohttp import web
from yarl import URL

from bot.config import Network
from bot.crypto import DataProtector
from bot.web.app_keys import SETTINGS

CLIENT_KIND = "web-client"  # blind-index kind of client networks
IPV6_PREFIX = 64  # one subscriber's share of IPv6 addresses: limited as one client


def client_address(request: web.Request) -> str:
    """The client's address: the peer, or the last address a trusted proxy forwarded."""
    peer = request.remote or ""
    proxies = request.app[SETTINGS].trusted_proxies
    if not _within(peer, proxies):
        return peer
    address = peer
    # Each proxy appends the address it was called from: walk back over our own proxies.
    for hop in reversed(request.headers.get("X-Forwarded-For", "").split(",")):
        if _parse(hop.strip()) is None:
            break
        address = hop.strip()
        if not _within(address, proxies):
            break
    return address


def client_key(request: web.Request) -> str:
    """The key a client is limited under: its address, or the /64 network of an IPv6 address."""
    address = client_address(request)
    parsed = _parse(address)
    if isinstance(parsed, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network(f"{parsed}/{IPV6_PREFIX}", strict=False))
    return str(parsed or address)


def hashed_client_key(request: web.Request, protector: DataProtector) -> str:
    """A keyed hash of `client_key`, for what is stored (failed lookups): never the address."""
    return protector.blind_index(CLIENT_KIND, client_key(request))


def scheme(request: web.Request) -> str:
    """`https` or `http`: as the client called us (a trusted proxy says so for itself)."""
    forwarded = request.headers.get("X-Forwarded-Proto", "")
    if forwarded and _within(request.remote or "", request.app[SETTINGS].trusted_proxies):
        return forwarded.rsplit(",", 1)[-1].strip().lower()
    return request.scheme


def is_same_origin(request: web.Request) -> bool:
    """Whether the request's `Origin` is the page it was sent to: same scheme, host and port."""
    try:
        origin = URL(request.headers.get("Origin", ""))
        ours = URL.build(scheme=scheme(request), authority=request.host)
    except ValueError:
        return False
    return bool(origin.host) and (origin.scheme, origin.host, origin.port) == (
        ours.scheme,
        ours.host,
        ours.port,
    )


def is_loopback_host(request: web.Request) -> bool:
    """Whether the page was opened as localhost or a loopback address (a secure context)."""
    try:
        host = URL.build(scheme="http", authority=request.host).host or ""
    except ValueError:
        return False
    parsed = _parse(host)
    return (
        host == "localhost" or host.endswith(".localhost") or bool(parsed and parsed.is_loopback)
    )


def _within(address: str, networks: tuple[Network, ...]) -> bool:
    parsed = _parse(address)
    return parsed is not None and any(parsed in network for network in networks)


def _parse(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address, an IPv4 one written as IPv6 (`::ffff:1.2.3.4`, a dual-stack socket) as IPv4."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return None
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        return parsed.ipv4_mapped
    return parsed
