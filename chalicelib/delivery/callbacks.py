"""Callback URL policy: where the bus may send HTTP requests (SSRF defence).

A callback is checked when a subscription is created *and* again before every
request, because DNS can change (rebinding).  The check resolves the host and
refuses it when any address is loopback, private, link-local, shared (CGNAT),
multicast, reserved, unspecified or a cloud metadata address - unless an
operator allow-list (``TLKS_CALLBACK_ALLOW``, CIDRs) admits it.  The request is
then made to the address that was checked (``Target.address``), never to a
second resolution of the name.
"""
from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import Callable, Iterable
from urllib.parse import urlsplit

from chalicelib.errors import BusError

METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"),
            ipaddress.ip_address("100.100.100.200")}
MAX_URL_LENGTH = 2048

Resolver = Callable[[str, int], list[str]]


class CallbackNotAllowed(BusError):
    status = 400
    code = "callback-not-allowed"
    title = "Callback URL not allowed"


@dataclass(frozen=True)
class Target:
    """A checked callback: connect to ``address``, speak to ``host``."""

    url: str
    scheme: str
    host: str
    port: int
    address: str
    path: str                      # path + query, as sent on the request line


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def parse_allow_list(text: str | None) -> tuple:
    networks = []
    for part in (text or "").split(","):
        if part.strip():
            networks.append(ipaddress.ip_network(part.strip(), strict=False))
    return tuple(networks)


def _forbidden_reason(address) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address in METADATA:
        return "a cloud metadata address"
    checks = (("unspecified", address.is_unspecified), ("loopback", address.is_loopback),
              ("link-local", address.is_link_local), ("private", address.is_private),
              ("multicast", address.is_multicast), ("reserved", address.is_reserved))
    for name, hit in checks:
        if hit:
            return f"a {name} address"
    if isinstance(address, ipaddress.IPv4Address) and address in ipaddress.ip_network(
            "100.64.0.0/10"):
        return "a shared (CGNAT) address"
    return None


class CallbackPolicy:
    def __init__(self, allow: Iterable = (), resolver: Resolver = system_resolver) -> None:
        self.allow = tuple(allow)
        self.resolver = resolver

    def check(self, url: object) -> Target:
        """Validate ``url`` and pick the address to connect to.

        Raises:
            CallbackNotAllowed: bad scheme/URL, unresolvable or forbidden host.
        """
        if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
            raise CallbackNotAllowed(f"a callback is an http(s) URL of at most "
                                     f"{MAX_URL_LENGTH} characters")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise CallbackNotAllowed(f"callback {url[:100]!r} is not a valid URL") from exc
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise CallbackNotAllowed("a callback must be an http:// or https:// URL with a host")
        if parts.username or parts.password:
            raise CallbackNotAllowed("a callback URL may not carry credentials")
        if parts.fragment:
            raise CallbackNotAllowed("a callback URL may not carry a #fragment")
        host = parts.hostname
        port = port or (443 if parts.scheme == "https" else 80)
        try:
            addresses = [ipaddress.ip_address(host)]
        except ValueError:
            try:
                addresses = [ipaddress.ip_address(a.split("%")[0])
                             for a in self.resolver(host, port)]
            except (OSError, UnicodeError, ValueError) as exc:
                raise CallbackNotAllowed(f"callback host {host!r} does not resolve") from exc
        if not addresses:
            raise CallbackNotAllowed(f"callback host {host!r} does not resolve")
        for address in addresses:
            if any(address in network for network in self.allow):
                continue
            reason = _forbidden_reason(address)
            if reason:
                raise CallbackNotAllowed(f"callback host {host!r} resolves to {address}, "
                                         f"{reason}; not allowed for callbacks")
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return Target(url, parts.scheme, host, port, str(addresses[0]), path)
