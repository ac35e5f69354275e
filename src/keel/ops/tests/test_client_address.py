"""Which address a request came from: X-Forwarded-For is read from the right and believed
only as far as the hops are trusted proxies."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from keel.ops.client_address import client_address, parse_trusted, resolve

LOCAL = parse_trusted(["127.0.0.1", "::1"])
PRIVATE = parse_trusted(["10.0.0.0/8", "fd00::/8"])


@pytest.mark.parametrize(
    ("remote", "forwarded", "trusted", "client"),
    [
        # No trusted proxies: the connection's address, whatever the header says.
        ("203.0.113.7", "198.51.100.1", (), "203.0.113.7"),
        # A proxy on this machine; the client sent nothing of its own.
        ("127.0.0.1", "203.0.113.7", LOCAL, "203.0.113.7"),
        # The client sent a forged entry; the proxy appended the real one on the right.
        ("127.0.0.1", "1.2.3.4, 203.0.113.7", LOCAL, "203.0.113.7"),
        # Two proxies (a load balancer, then nginx), both trusted: skip both.
        ("10.0.0.3", "1.2.3.4, 203.0.113.7, 10.0.0.2", PRIVATE, "203.0.113.7"),
        # A connection from an address that is not a trusted proxy: header ignored.
        ("198.51.100.9", "203.0.113.7", PRIVATE, "198.51.100.9"),
        # Only trusted hops, no header, or a malformed right-most hop: the proxy itself.
        ("10.0.0.3", "10.0.0.2", PRIVATE, "10.0.0.3"),
        ("10.0.0.3", "", PRIVATE, "10.0.0.3"),
        ("10.0.0.3", "203.0.113.7, not-an-address", PRIVATE, "10.0.0.3"),
        # IPv6 clients and proxies; an IPv4 client seen through a dual-stack socket.
        ("fd00::2", "2001:db8::7", PRIVATE, "2001:db8::7"),
        ("::ffff:203.0.113.7", "", (), "203.0.113.7"),
        ("127.0.0.1", " 2001:DB8::7 ", LOCAL, "2001:db8::7"),
    ],
)
def test_resolve(remote: str, forwarded: str, trusted: tuple, client: str) -> None:
    assert resolve(remote, forwarded, trusted) == client


def test_a_connection_without_an_ip_address_has_none() -> None:
    assert resolve("", "203.0.113.7", LOCAL) is None
    assert resolve("unix:/run/keel.sock", "", LOCAL) is None
    assert client_address(None) is None


def test_trusted_proxies_are_addresses_or_networks() -> None:
    assert [str(n) for n in parse_trusted([" 10.0.0.0/8", "", "127.0.0.1 ", "::1"])] == [
        "10.0.0.0/8",
        "127.0.0.1/32",
        "::1/128",
    ]
    with pytest.raises(ImproperlyConfigured, match=r"'proxy\.example' is not an IP address"):
        parse_trusted(["10.0.0.0/8", "proxy.example"])


def test_client_address_reads_the_request_and_the_setting(settings) -> None:
    request = RequestFactory().get(
        "/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.7"
    )
    settings.KEEL_TRUSTED_PROXIES = ()
    assert client_address(request) == "127.0.0.1"
    settings.KEEL_TRUSTED_PROXIES = LOCAL
    assert client_address(request) == "203.0.113.7"
