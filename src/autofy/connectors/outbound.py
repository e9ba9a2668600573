"""Outbound HTTP for connectors: timeouts, a response-size cap and, where a user controls the URL,
a guard against server-side request forgery (ARCHITECTURE §5).

The guard lives in an httpx transport, so every request a connector sends through `ctx.http`
(every redirect hop included, since httpx hands each hop to the transport) is checked the same way:
the host is resolved once, every address it resolves to must be a public one, and the connection
is pinned to the checked address (Host header and TLS SNI keep the name), so a DNS answer that
changes between check and connect (DNS rebinding) cannot reach an internal address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import unquote

import httpx

from autofy.connectors.sdk import MAX_RESPONSE_BYTES, PermanentError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOWED_SCHEMES = frozenset({"http", "https"})
_CLOUD_METADATA = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")})
_CARRIER_GRADE_NAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class DestinationRefused(PermanentError):
    """The URL points somewhere Autofy will not connect to on a user's behalf."""


class ResponseTooLarge(PermanentError):
    """The answer exceeded the response-size cap."""


@dataclass(frozen=True)
class OutboundPolicy:
    """How outbound calls are bounded. Build one from the settings:

    `OutboundPolicy(allow_private_network=settings.outbound_allow_private_network)`.
    `allowed_hosts` are exact `host:port` pairs that skip the address check (an internal service a
    self-hoster trusts), narrower than opening the whole private network.
    """

    allow_private_network: bool = False
    allowed_hosts: frozenset[str] = frozenset()
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    total_timeout: float = 120.0
    max_response_bytes: int = MAX_RESPONSE_BYTES
    max_redirects: int = 5


def refusal_reason(address: IPAddress) -> str | None:
    """Why a connection to `address` is refused, or None when it is a public address."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        reason = refusal_reason(embedded)
        return f"{reason} (IPv4 {embedded} inside IPv6)" if reason else None
    if address in _CLOUD_METADATA:
        return "a cloud metadata address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if isinstance(address, ipaddress.IPv4Address) and address in _CARRIER_GRADE_NAT:
        return "a carrier-grade NAT address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_private:
        return "a private address"
    if address.is_reserved or not address.is_global:
        return "a reserved address"
    return None


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries and that a stack may route to, if any."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    packed = int(address)
    if address in _NAT64 or (packed >> 32 == 0 and packed > 1):  # NAT64, or IPv4-compatible ::a.b.c.d
        return ipaddress.IPv4Address(packed & 0xFFFFFFFF)
    return None


def parse_ip_literal(host: str) -> IPAddress | None:
    """An address written in the URL itself, in any form a resolver accepts.

    Besides the usual notations, `inet_aton` also reads 2130706433, 0x7f000001, 0177.0.0.1 and
    127.1 as 127.0.0.1; reading them here keeps the decision independent of the system resolver.
    """
    name = unquote(host).strip("[]").rstrip(".")
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        pass
    parts = name.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    try:
        numbers = [_inet_aton_number(part) for part in parts]
    except ValueError:
        return None
    *leading, last = numbers
    if any(n > 255 for n in leading) or last >= 256 ** (5 - len(parts)):
        return None
    value = last
    for index, number in enumerate(leading):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def _inet_aton_number(part: str) -> int:
    lowered = part.lower()
    if lowered.startswith("0x"):
        return int(lowered[2:] or "0", 16)
    if len(part) > 1 and part.startswith("0"):
        return int(part, 8)
    if not part.isdigit():
        raise ValueError(part)
    return int(part)


async def resolve_checked(host: str, port: int, *, check: bool) -> IPAddress:
    """Resolve `host` once; with `check`, refuse it unless every address is public."""
    literal = parse_ip_literal(host)
    if literal is not None:
        addresses: list[IPAddress] = [literal]
    else:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as error:
            raise httpx.ConnectError(f"could not resolve {host}: {error}") from None
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    if check:
        for address in addresses:
            reason = refusal_reason(address)
            if reason is not None:
                raise DestinationRefused(
                    f"refusing to connect to {host}: it is {reason}; only public addresses are allowed"
                )
    return addresses[0]


class GuardedTransport(httpx.AsyncBaseTransport):
    """Checks and pins every request's destination, then bounds its answer by size and time."""

    def __init__(self, policy: OutboundPolicy, *, check_addresses: bool) -> None:
        self._policy = policy
        self._check_addresses = check_addresses and not policy.allow_private_network
        self._timeout_limits = {
            "connect": policy.connect_timeout,
            "read": policy.read_timeout,
            "write": policy.read_timeout,
            "pool": policy.connect_timeout,
        }
        # One pool per host name: connections are opened to an address, and a TLS session verified
        # for one name must not be reused for another name on the same address.
        self._transports: dict[str, httpx.AsyncHTTPTransport] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        started = time.monotonic()
        url = request.url
        if url.scheme not in ALLOWED_SCHEMES:
            raise DestinationRefused(f"refusing the URL scheme {url.scheme!r}; use http or https")
        host = url.host
        check = self._check_addresses and f"{host}:{url.port or _default_port(url)}" not in (
            self._policy.allowed_hosts
        )
        address = await resolve_checked(host, url.port or _default_port(url), check=check)
        extensions = dict(request.extensions)
        extensions["timeout"] = _capped_timeouts(request.extensions.get("timeout"), self._timeout_limits)
        if url.scheme == "https" and parse_ip_literal(host) is None:
            extensions["sni_hostname"] = host
        pinned = httpx.Request(
            request.method,
            url.copy_with(host=str(address)),
            headers=request.headers,  # carries the original Host header
            stream=request.stream,
            extensions=extensions,
        )
        try:
            async with asyncio.timeout(self._policy.total_timeout):
                response = await self._transport_for(host).handle_async_request(pinned)
        except TimeoutError:
            raise httpx.ReadTimeout(f"no answer from {host} in time") from None
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_BoundedStream(response, self._policy, started),
            extensions=response.extensions,
        )

    def _transport_for(self, host: str) -> httpx.AsyncHTTPTransport:
        transport = self._transports.get(host)
        if transport is None:
            transport = httpx.AsyncHTTPTransport(retries=0)
            self._transports[host] = transport
        return transport

    async def aclose(self) -> None:
        for transport in self._transports.values():
            await transport.aclose()
        self._transports.clear()


class _BoundedStream(httpx.AsyncByteStream):
    def __init__(self, response: httpx.Response, policy: OutboundPolicy, started: float) -> None:
        self._response = response
        self._max_bytes = policy.max_response_bytes
        self._deadline = started + policy.total_timeout

    async def __aiter__(self) -> AsyncIterator[bytes]:
        received = 0
        async for chunk in self._response.aiter_raw():
            received += len(chunk)
            if received > self._max_bytes:
                raise ResponseTooLarge(f"the answer is larger than {self._max_bytes} bytes")
            if time.monotonic() > self._deadline:
                raise httpx.ReadTimeout("the answer took longer than the total time allowed")
            yield chunk

    async def aclose(self) -> None:
        await self._response.aclose()


def _capped_timeouts(requested: dict[str, float | None] | None, limits: dict[str, float]) -> dict[str, float]:
    """The request's own timeouts (an action may ask for less), never above the policy's."""
    asked = requested or {}
    return {
        phase: ceiling if asked.get(phase) is None else min(asked[phase] or ceiling, ceiling)
        for phase, ceiling in limits.items()
    }


def _default_port(url: httpx.URL) -> int:
    return 443 if url.scheme == "https" else 80


def outbound_client(policy: OutboundPolicy, *, guarded: bool) -> httpx.AsyncClient:
    """An httpx client for a connector: bounded always, address-checked when `guarded`.

    Guard when a user controls the URL (the HTTP request step, an integration's `api_base`); a
    connector's own default base URL is trusted. Environment proxies are ignored: a proxy would
    connect on our behalf and bypass the check.
    """
    return httpx.AsyncClient(
        transport=GuardedTransport(policy, check_addresses=guarded),
        follow_redirects=True,
        max_redirects=policy.max_redirects,
        timeout=httpx.Timeout(policy.read_timeout, connect=policy.connect_timeout),
        trust_env=False,
    )
