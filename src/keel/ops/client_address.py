"""The address a request came from, believing X-Forwarded-For only from proxies Keel is
told to trust (``KEEL_TRUSTED_PROXIES``).

Behind a proxy every connection comes from the proxy: the log-in lock-out, the limit on
presentations of invalid API keys (counted per address) and the audit log would all see one
address, and one client guessing keys would lock every platform out of the API. The proxy
appends the address it saw to X-Forwarded-For; anything to the left of that came from the
client and proves nothing. So the header is read from the right: trusted proxies are
skipped, and the first address that is not one is the client's. With no trusted proxies,
or a connection that does not come from one, the header is ignored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_trusted(entries: Iterable[str]) -> tuple[Network, ...]:
    """Addresses and networks ("10.0.0.0/8", "127.0.0.1", "::1"), as networks (settings.py
    reads KEEL_TRUSTED_PROXIES with it, so a bad entry stops Keel at start-up)."""
    networks = []
    for entry in entries:
        text = entry.strip()
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise ImproperlyConfigured(
                f"KEEL_TRUSTED_PROXIES: {text!r} is not an IP address or network"
            ) from None
    return tuple(networks)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    # An IPv4 client of a dual-stack socket arrives as ::ffff:a.b.c.d.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def resolve(remote_addr: str, forwarded_for: str, trusted: Sequence[Network]) -> str | None:
    """The client's address: `remote_addr`, unless that is a trusted proxy, in which case
    the right-most address of `forwarded_for` that is not a trusted proxy. None when the
    connection's own address is not an IP address (a Unix socket, a test client)."""
    remote = _address(remote_addr)
    if remote is None:
        return None
    if not any(remote in network for network in trusted):
        return str(remote)
    for entry in reversed(forwarded_for.split(",")):
        hop = _address(entry)
        if hop is None:
            # Not what a proxy writes: believe nothing further left.
            break
        if not any(hop in network for network in trusted):
            return str(hop)
    # Every hop was a trusted proxy, or the header was missing or malformed.
    return str(remote)


def client_address(request: HttpRequest | None) -> str | None:
    """The address `request` came from (see the module docstring); django-axes reads it
    too (AXES_CLIENT_IP_CALLABLE), so the lock-out, the API limits and the audit log count
    the same address."""
    if request is None:
        return None
    return resolve(
        str(request.META.get("REMOTE_ADDR") or ""),
        str(request.META.get("HTTP_X_FORWARDED_FOR") or ""),
        settings.KEEL_TRUSTED_PROXIES,
    )
