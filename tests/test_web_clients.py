"""Who is asking: the client's address, its limit key, the scheme and the origin of a request."""

from __future__ import annotations

from ipaddress import ip_network

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from bot.config import ConfigError, Settings
from bot.web.app_keys import SETTINGS
from bot.web.clients import client_address, client_key, is_loopback_host, is_same_origin, scheme

PROXY = "127.0.0.1"


class Peer:
    """The transport of a request from `address`."""

    def __init__(self, address: str) -> None:
        self.address = address

    def get_extra_info(self, name: str, default: object = None) -> object:
        return (self.address, 40000) if name == "peername" else default


def request(peer: str, proxies: str = "", **headers: str) -> web.Request:
    app = web.Application()
    app[SETTINGS] = Settings.from_env({"TRUSTED_PROXIES": proxies} if proxies else {})
    headers.setdefault("Host", "chat.example.vn")
    return make_mocked_request("POST", "/", headers=headers, app=app, transport=Peer(peer))


@pytest.mark.parametrize(
    ("peer", "proxies", "forwarded", "address", "key"),
    [
        ("203.0.113.7", "", "", "203.0.113.7", "203.0.113.7"),
        # Nobody said a proxy is in front: the header is the client's own words.
        (PROXY, "", "198.51.100.1", PROXY, PROXY),
        ("203.0.113.7", PROXY, "198.51.100.1", "203.0.113.7", "203.0.113.7"),
        (PROXY, PROXY, "198.51.100.1", "198.51.100.1", "198.51.100.1"),
        # What the client wrote itself comes before what our proxy appended.
        (PROXY, PROXY, "10.9.9.9, 198.51.100.1", "198.51.100.1", "198.51.100.1"),
        (PROXY, "127.0.0.1, 10.0.0.0/8", "198.51.100.1, 10.0.0.2", "198.51.100.1", "198.51.100.1"),
        (PROXY, PROXY, "not-an-address", PROXY, PROXY),
        (PROXY, PROXY, "", PROXY, PROXY),
        # IPv6: one subscriber's /64 is one client.
        ("2001:db8:1:2:aaaa::1", "", "", "2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        (PROXY, PROXY, "2001:db8:1:2::9", "2001:db8:1:2::9", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.7", "", "", "::ffff:203.0.113.7", "203.0.113.7"),
        ("::ffff:127.0.0.1", PROXY, "198.51.100.1", "198.51.100.1", "198.51.100.1"),
    ],
    ids=[
        "direct",
        "no-proxy-setting",
        "untrusted-peer",
        "trusted-proxy",
        "client-prefix-ignored",
        "two-proxies",
        "garbage",
        "no-header",
        "ipv6",
        "ipv6-forwarded",
        "ipv4-mapped",
        "ipv4-mapped-proxy",
    ],
)
def test_client_address_and_key(
    peer: str, proxies: str, forwarded: str, address: str, key: str
) -> None:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    asked = request(peer, proxies, **headers)
    assert (client_address(asked), client_key(asked)) == (address, key)


@pytest.mark.parametrize(
    ("peer", "proxies", "proto", "origin", "same"),
    [
        ("203.0.113.7", "", "", "http://chat.example.vn", True),
        ("203.0.113.7", "", "", "http://chat.example.vn:80", True),
        ("203.0.113.7", "", "", "https://chat.example.vn", False),
        ("203.0.113.7", "", "https", "https://chat.example.vn", False),
        (PROXY, PROXY, "https", "https://chat.example.vn", True),
        (PROXY, PROXY, "https", "http://chat.example.vn", False),
        (PROXY, PROXY, "https", "https://chat.example.vn:8443", False),
        (PROXY, PROXY, "https", "https://evil.example", False),
        (PROXY, PROXY, "https", "null", False),
        (PROXY, PROXY, "https", "", False),
        (PROXY, PROXY, "https", "https://chat.example.vn:99999", False),
    ],
)
def test_same_origin(peer: str, proxies: str, proto: str, origin: str, same: bool) -> None:
    headers = {"X-Forwarded-Proto": proto} if proto else {}
    if origin:
        headers["Origin"] = origin
    asked = request(peer, proxies, **headers)
    assert is_same_origin(asked) is same
    assert scheme(asked) == ("https" if proto and proxies else "http")


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost:8080", True),
        ("127.0.0.1:8080", True),
        ("[::1]:8080", True),
        ("chat.localhost", True),
        ("192.0.2.10:8080", False),
        ("chat.example.vn", False),
        ("a:b:c", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback_host(request("203.0.113.7", Host=host)) is loopback


def test_trusted_proxies_setting() -> None:
    assert Settings.from_env({}).trusted_proxies == ()
    read = Settings.from_env({"TRUSTED_PROXIES": " 127.0.0.1, 10.0.0.0/8 ,::1"}).trusted_proxies
    assert read == (ip_network("127.0.0.1"), ip_network("10.0.0.0/8"), ip_network("::1"))
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES must list IP addresses"):
        Settings.from_env({"TRUSTED_PROXIES": "proxy.local"})
