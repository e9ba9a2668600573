"""Outbound HTTP: the one transport for everything Autofy sends on a user's behalf (ARCHITECTURE §5).

Timeouts, a response-size cap and a guard against server-side request forgery. The guard lives in
an httpx transport (`GuardedTransport`), so every request sent through it (every redirect hop
included, since the client hands each hop to the transport) is checked the same way: the host is
resolved once, every address it resolves to must be a public one and not one of this machine's,
and the connection is pinned to the checked address (Host header and TLS SNI keep the name), so a
DNS answer that changes between check and connect (DNS rebinding) cannot reach an internal address.

Every destination is checked, a connector's default base URL included (those are public, so the
check costs nothing but the resolution every connection needs anyway), so no caller has to decide
whether a URL came from a user. The clients built here:

- `outbound_client(policy)`: the connectors' `ctx.http`, connection tests, OAuth, polling, health
  probes (httpx);
- `sdk_http_client(policy)`: for the openai and anthropic SDKs, which run on httpx2 (a fork with
  its own types): an httpx2 client whose transport hands each request to the same guard;
- `GuardedTransport(policy)` itself, as `client_args={"transport": ...}` for google-genai.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import cache
from urllib.parse import unquote

import certifi
import httpx
import httpx2
import psutil

from autofy.connectors.sdk import MAX_RESPONSE_BYTES, PermanentError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOWED_SCHEMES = frozenset({"http", "https"})
_CLOUD_METADATA = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")})
_CARRIER_GRADE_NAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# This machine's interface addresses are read again after this long (DHCP, a new interface).
_OWN_ADDRESSES_TTL_SECONDS = 30.0
_own_addresses_cache: tuple[float, frozenset[IPAddress]] = (0.0, frozenset())


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
    if address in own_addresses():
        # A public address of this machine still reaches services listening on all interfaces.
        return "an address of this machine"
    return None


def own_addresses() -> frozenset[IPAddress]:
    """The addresses of this machine's network interfaces (read at most every 30 s)."""
    global _own_addresses_cache
    read_at, addresses = _own_addresses_cache
    now = time.monotonic()
    if now - read_at > _OWN_ADDRESSES_TTL_SECONDS or not addresses:
        addresses = frozenset(
            ipaddress.ip_address(entry.address.split("%")[0])  # drop an IPv6 zone (fe80::1%eth0)
            for entries in psutil.net_if_addrs().values()
            for entry in entries
            if entry.family in (socket.AF_INET, socket.AF_INET6)
        )
        _own_addresses_cache = (now, addresses)
    return addresses


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
    if check and _is_localhost_name(host):
        # RFC 6761: these names are loopback whatever a resolver says (some refuse `localhost.`).
        raise DestinationRefused(
            f"refusing to connect to {host}: it is a loopback name; only public addresses are allowed"
        )
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


def _is_localhost_name(host: str) -> bool:
    name = unquote(host).rstrip(".").lower()
    return name == "localhost" or name.endswith(".localhost")


class GuardedTransport(httpx.AsyncBaseTransport):
    """Checks and pins every request's destination, then bounds its answer by size and time."""

    def __init__(self, policy: OutboundPolicy) -> None:
        self._policy = policy
        self._check_addresses = not policy.allow_private_network
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
            transport = httpx.AsyncHTTPTransport(retries=0, verify=tls_context())
            self._transports[host] = transport
        return transport

    async def aclose(self) -> None:
        for transport in self._transports.values():
            await transport.aclose()
        self._transports.clear()

    def close(self) -> None:
        """Nothing to do: google-genai also builds a synchronous client on the transport it is
        given and closes it with this; connections are asynchronous ones, closed by `aclose`."""


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


@cache
def tls_context() -> ssl.SSLContext:
    """One TLS context for every connection pool: building one loads the CA bundle (~0.1 s)."""
    return ssl.create_default_context(cafile=certifi.where())


def outbound_client(policy: OutboundPolicy) -> httpx.AsyncClient:
    """An httpx client whose every request and redirect hop goes through `GuardedTransport`.

    Environment proxies are ignored: a proxy would connect on our behalf and bypass the check.
    """
    return httpx.AsyncClient(
        transport=GuardedTransport(policy),
        follow_redirects=True,
        max_redirects=policy.max_redirects,
        timeout=httpx.Timeout(policy.read_timeout, connect=policy.connect_timeout),
        trust_env=False,
    )


def sdk_http_client(policy: OutboundPolicy) -> httpx2.AsyncClient:
    """An httpx2 client (the openai and anthropic SDKs' `http_client`) on the same guard."""
    return httpx2.AsyncClient(
        transport=Httpx2GuardedTransport(GuardedTransport(policy)),
        follow_redirects=True,
        max_redirects=policy.max_redirects,
        timeout=httpx2.Timeout(policy.read_timeout, connect=policy.connect_timeout),
        trust_env=False,
    )


class Httpx2GuardedTransport(httpx2.AsyncBaseTransport):
    """Hands each httpx2 request to a `GuardedTransport` and its answer back as httpx2's, so both
    HTTP libraries go through one guard. Transport errors keep their kind (timeout, connect...)."""

    def __init__(self, guard: GuardedTransport) -> None:
        self._guard = guard

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        forwarded = httpx.Request(
            request.method,
            str(request.url),
            headers=request.headers.raw,
            stream=_RequestBody(request.stream),
            extensions=dict(request.extensions),
        )
        try:
            response = await self._guard.handle_async_request(forwarded)
        except httpx.TransportError as error:
            raise _as_httpx2_error(error) from None
        return httpx2.Response(
            response.status_code,
            headers=response.headers.raw,
            stream=_ResponseBody(response),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._guard.aclose()


class _RequestBody(httpx.AsyncByteStream):
    def __init__(self, body: httpx2.SyncByteStream | httpx2.AsyncByteStream) -> None:
        self._body = body

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if isinstance(self._body, httpx2.AsyncByteStream):
            async for chunk in self._body:
                yield chunk
        else:
            for chunk in self._body:
                yield chunk


class _ResponseBody(httpx2.AsyncByteStream):
    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        # One iterator for every pass: a reader that stops early and drains the rest later (the
        # openai SDK, at a stream's `[DONE]`) continues where it stopped, so the body ends and
        # the connection goes back to the pool instead of being closed.
        self._raw = response.aiter_raw()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._raw:
                yield chunk
        except httpx.TransportError as error:
            raise _as_httpx2_error(error) from None

    async def aclose(self) -> None:
        await self._response.aclose()


def _as_httpx2_error(error: httpx.TransportError) -> httpx2.TransportError:
    kind = getattr(httpx2, type(error).__name__, httpx2.TransportError)
    if not (isinstance(kind, type) and issubclass(kind, httpx2.TransportError)):
        kind = httpx2.TransportError
    return kind(str(error))
