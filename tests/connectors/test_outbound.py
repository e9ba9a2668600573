"""The outbound guard: user-chosen URLs reach public addresses only, whatever way the address is
written, through redirects too; every answer is bounded in size and time."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

import httpx
import pytest

from autofy.connectors.catalog import catalog
from autofy.connectors.core import CoreConnector
from autofy.connectors.outbound import (
    DestinationRefused,
    OutboundPolicy,
    ResponseTooLarge,
    outbound_client,
    parse_ip_literal,
    refusal_reason,
)
from autofy.connectors.runtime import connector_context, run_action
from autofy.connectors.sdk import PermanentError
from tests.fakes.http_echo import ConnectionCounter, HttpEcho

GUARDED = OutboundPolicy(connect_timeout=1.0, read_timeout=1.0, total_timeout=3.0)


@pytest.fixture
def listener() -> Iterator[ConnectionCounter]:
    with ConnectionCounter().running() as counter:
        yield counter


@pytest.fixture
def echo() -> Iterator[HttpEcho]:
    with HttpEcho().running() as server:
        assert isinstance(server, HttpEcho)
        yield server


# Every way of writing an address of this machine, each aimed at the listener's port.
LOCAL_FORMS = [
    "127.0.0.1",
    "localhost",
    "2130706433",  # decimal
    "0x7f000001",  # hexadecimal
    "0x7f.0.0.1",
    "0177.0.0.1",  # octal
    "127.1",  # short form
    "127.0.0.1.",  # trailing dot
    "0.0.0.0",  # noqa: S104 - unspecified: Linux connects it to this machine
    "0",
    "[::ffff:127.0.0.1]",  # IPv4-mapped IPv6
    "[::ffff:7f00:1]",
    "[::127.0.0.1]",  # IPv4-compatible IPv6
    "[::]",
]


@pytest.mark.parametrize("host", LOCAL_FORMS)
async def test_guard_refuses_every_form_of_a_local_address_without_connecting(
    host: str, listener: ConnectionCounter
) -> None:
    async with outbound_client(GUARDED) as client:
        with pytest.raises((DestinationRefused, httpx.InvalidURL)):
            await client.get(f"http://{host}:{listener.port}/")
    assert listener.connections() == 0


@pytest.mark.parametrize("host", LOCAL_FORMS)
async def test_http_request_step_refuses_local_addresses_without_connecting(
    host: str, listener: ConnectionCounter
) -> None:
    async with connector_context(CoreConnector(), credentials={}, configuration={}, policy=GUARDED) as ctx:
        with pytest.raises(PermanentError) as refused:
            await run_action(
                catalog(), "core", "http_request", {"url": f"http://{host}:{listener.port}/"}, ctx
            )
    assert "refusing" in refused.value.message or "invalid URL" in refused.value.message
    assert listener.connections() == 0


async def test_guard_refuses_ipv6_loopback_without_connecting() -> None:
    with ConnectionCounter("::1").running() as listener:
        async with outbound_client(GUARDED) as client:
            with pytest.raises(DestinationRefused, match="loopback"):
                await client.get(f"http://[::1]:{listener.port}/")
        assert listener.connections() == 0


async def test_listener_counts_a_connection_when_private_network_is_allowed(
    listener: ConnectionCounter,
) -> None:
    # The control for the tests above: the same request, allowed, does reach the listener.
    policy = OutboundPolicy(allow_private_network=True, read_timeout=0.2, total_timeout=1.0)
    async with outbound_client(policy) as client:
        with pytest.raises(httpx.TimeoutException):
            await client.get(f"http://2130706433:{listener.port}/")
    assert listener.connections() == 1


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://10.0.0.1/",
        "http://172.16.5.4/",
        "http://192.168.1.1/",
        "http://100.64.0.1/",
        "http://169.254.1.1/",
        "http://224.0.0.1/",
        "http://240.0.0.1/",
        "http://[fe80::1]/",
        "http://[fc00::1]/",
        "http://[ff02::1]/",
        "http://[::ffff:10.0.0.1]/",
        "http://[::ffff:169.254.169.254]/",
        "http://[64:ff9b::a00:1]/",  # NAT64 of 10.0.0.1
        "http://[2002:a00:1::]/",  # 6to4 of 10.0.0.1
        "http://0xa9fea9fe/",  # 169.254.169.254 in hexadecimal
    ],
)
async def test_guard_refuses_internal_and_metadata_addresses(url: str) -> None:
    async with outbound_client(GUARDED) as client:
        with pytest.raises(DestinationRefused):
            await client.get(url)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/", "gopher://example.com/"])
async def test_guard_refuses_other_schemes(url: str) -> None:
    async with outbound_client(GUARDED) as client:
        with pytest.raises((DestinationRefused, httpx.UnsupportedProtocol)):
            await client.get(url)


async def test_redirect_to_a_private_address_is_refused(echo: HttpEcho, listener: ConnectionCounter) -> None:
    # The echo server itself is allowed by name; where it redirects is checked again.
    policy = OutboundPolicy(allowed_hosts=frozenset({f"127.0.0.1:{echo.port}"}), total_timeout=3.0)
    async with outbound_client(policy) as client:
        with pytest.raises(DestinationRefused, match="loopback"):
            await client.get(f"{echo.url}/redirect", params={"to": f"http://localhost:{listener.port}/"})
    assert echo.requests_to("/redirect")
    assert listener.connections() == 0


async def test_allowed_host_is_pinned_and_keeps_its_host_header(echo: HttpEcho) -> None:
    policy = OutboundPolicy(allowed_hosts=frozenset({f"localhost:{echo.port}"}))
    async with outbound_client(policy) as client:
        response = await client.get(f"http://localhost:{echo.port}/echo")
    assert response.json()["headers"]["host"] == f"localhost:{echo.port}"
    assert str(response.request.url) == f"http://localhost:{echo.port}/echo"


async def test_answers_over_the_size_cap_are_refused(echo: HttpEcho) -> None:
    policy = OutboundPolicy(max_response_bytes=1000, allow_private_network=True)
    async with outbound_client(policy) as client:
        assert len((await client.get(f"{echo.url}/bytes/1000")).content) == 1000
        with pytest.raises(ResponseTooLarge):
            await client.get(f"{echo.url}/bytes/5000")


async def test_slow_answers_time_out(echo: HttpEcho) -> None:
    echo.slow(2.0)
    policy = OutboundPolicy(read_timeout=0.3, allow_private_network=True)
    async with outbound_client(policy) as client:
        with pytest.raises(httpx.TimeoutException):
            await client.get(f"{echo.url}/echo")


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "1.1.1.1",
        "93.184.216.34",
        "2606:4700:4700::1111",
        "2a00:1450:4007:80e::200e",
        "::ffff:8.8.8.8",
    ],
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert refusal_reason(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("written", "address"),
    [
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("10.1", "10.0.0.1"),
        ("192.168.257", "192.168.1.1"),
        ("[::1]", "::1"),
        ("example.com", None),
        ("1.2.3.4.5", None),
        ("256.1.1.1", None),
    ],
)
def test_ip_literals_are_read_like_a_resolver_reads_them(written: str, address: str | None) -> None:
    expected = ipaddress.ip_address(address) if address else None
    assert parse_ip_literal(written) == expected
