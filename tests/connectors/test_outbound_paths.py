"""Every path by which Autofy sends a request on a user's behalf goes through the outbound guard.

A table: every way of writing an internal address (loopback v4/v6, unspecified, decimal, hex,
octal, short forms, IPv4-mapped IPv6, trailing dots, userinfo tricks, link-local, private ranges,
this machine's own addresses), put in every user-settable URL (the HTTP step's URL, an
integration's `api_base` and Gmail's `token_url`), × every path that makes a request (connection
tests, a step of each service, email polling, OAuth code exchange and token refresh, LLM chat and
embeddings, the health probe), directly and behind a public server that redirects there. A
listener on every address of this machine must see zero connections, and the answer must say the
destination was refused.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from autofy.assistant.embeddings import embed
from autofy.assistant.providers import DEFAULT_EMBEDDING_MODELS, EmbeddingAccess
from autofy.connectors.catalog import catalog
from autofy.connectors.gmail import exchange_code
from autofy.connectors.gmail.oauth import refresh_credentials
from autofy.connectors.gmail.triggers import NewEmail, NewEmailConfig
from autofy.connectors.llm.clients import ModelClients
from autofy.connectors.llm.providers import PROVIDERS
from autofy.connectors.outbound import OutboundPolicy, outbound_client, own_addresses
from autofy.connectors.runtime import connector_context, run_action
from autofy.status.checker import check_service
from tests.fakes.http_echo import ConnectionCounter, HttpEcho

# Short timeouts: a refusal is immediate, and a test that connected must not hang on the listener.
STRICT = OutboundPolicy(connect_timeout=1.0, read_timeout=1.0, total_timeout=2.0)
FRESH_TOKEN = {"access_token": "ya29.fresh", "expires_at": int(time.time()) + 3600}
EXPIRED_GRANT = {"client_id": "cid", "client_secret": "csecret", "refresh_token": "1//refresh"}

# How a host is written in a URL; `{port}` is the listener's.
HOST_FORMS = [
    "127.0.0.1",
    "localhost",
    "localhost.",  # trailing dot
    "127.0.0.1.",
    "[::1]",
    "0.0.0.0",  # noqa: S104 - unspecified: Linux connects it to this machine
    "0",
    "[::]",
    "2130706433",  # decimal
    "0x7f000001",  # hexadecimal
    "0x7f.0.0.1",
    "0177.0.0.1",  # octal
    "127.1",  # short forms
    "127.0.1",
    "[::ffff:127.0.0.1]",  # IPv4-mapped IPv6
    "[::ffff:7f00:1]",
    "[::127.0.0.1]",  # IPv4-compatible IPv6
    "public.example.com@127.0.0.1",  # userinfo: the host is what follows the @
    "8.8.8.8:80@[::1]",
    "169.254.169.254",  # cloud metadata
    "0xa9fea9fe",
    "[::ffff:169.254.169.254]",
    "169.254.1.1",  # link-local
    "[fe80::1]",
    "10.0.0.1",  # private ranges
    "172.16.0.1",
    "192.168.0.1",
    "100.64.0.1",  # carrier-grade NAT
    "[fc00::1]",
    *sorted(f"[{address}]" if address.version == 6 else str(address) for address in own_addresses()),
]


@dataclass(frozen=True)
class Target:
    """Where a path sends its request: a URL base a user could set, and the policy in force."""

    base: str
    policy: OutboundPolicy


RequestPath = Callable[[Target], Awaitable[Any]]
PATHS: dict[str, RequestPath] = {}


def path(name: str) -> Callable[[RequestPath], RequestPath]:
    def register(function: RequestPath) -> RequestPath:
        PATHS[name] = function
        return function

    return register


async def _step(service: str, action: str, params: dict[str, Any], target: Target, **context: Any) -> Any:
    connector = catalog().connector(service)
    async with connector_context(connector, policy=target.policy, **context) as ctx:
        return await run_action(catalog(), service, action, params, ctx)


async def _connection_test(service: str, target: Target, **context: Any) -> Any:
    connector = catalog().connector(service)
    async with connector_context(connector, policy=target.policy, **context) as ctx:
        return await connector.test(ctx)


@path("http_request step")
async def _http_request(target: Target) -> Any:
    return await _step(
        "core", "http_request", {"url": f"{target.base}/hook"}, target, credentials={}, configuration={}
    )


@path("gmail test connection (token_url)")
async def _gmail_test_token_url(target: Target) -> Any:
    configuration = {"token_url": f"{target.base}/token"}
    return await _connection_test("gmail", target, credentials=EXPIRED_GRANT, configuration=configuration)


@path("gmail test connection (api_base)")
async def _gmail_test_api_base(target: Target) -> Any:
    configuration = {"api_base": target.base}
    return await _connection_test("gmail", target, credentials=FRESH_TOKEN, configuration=configuration)


@path("gmail step (token_url)")
async def _gmail_step(target: Target) -> Any:
    params = {"to": "someone@example.com", "subject": "Hi", "body_text": "Hello"}
    configuration = {"token_url": f"{target.base}/token"}
    return await _step(
        "gmail", "send_email", params, target, credentials=EXPIRED_GRANT, configuration=configuration
    )


@path("gmail oauth token refresh")
async def _gmail_refresh(target: Target) -> Any:
    connector = catalog().connector("gmail")
    configuration = {"token_url": f"{target.base}/token"}
    async with connector_context(
        connector, credentials=EXPIRED_GRANT, configuration=configuration, policy=target.policy
    ) as ctx:
        return await refresh_credentials(ctx)


@path("gmail oauth code exchange")
async def _gmail_exchange(target: Target) -> Any:
    # As `integrations.service.complete_gmail_oauth` does.
    async with outbound_client(target.policy) as http:
        return await exchange_code(
            http, f"{target.base}/token", "cid", "csecret", "4/code", "https://autofy.test/callback"
        )


async def _poll(target: Target, credentials: dict[str, Any], configuration: dict[str, Any]) -> Any:
    connector = catalog().connector("gmail")
    async with connector_context(
        connector, credentials=credentials, configuration=configuration, policy=target.policy
    ) as ctx:
        return await NewEmail().poll(ctx, NewEmailConfig(), {"history_id": "1"})


@path("email polling (token_url)")
async def _poll_token_url(target: Target) -> Any:
    return await _poll(target, EXPIRED_GRANT, {"token_url": f"{target.base}/token"})


@path("email polling (api_base)")
async def _poll_api_base(target: Target) -> Any:
    return await _poll(target, FRESH_TOKEN, {"api_base": target.base})


@path("notion test connection")
async def _notion_test(target: Target) -> Any:
    return await _connection_test(
        "notion", target, credentials={"token": "secret_x"}, configuration={"api_base": target.base}
    )


@path("notion step")
async def _notion_step(target: Target) -> Any:
    return await _step(
        "notion",
        "get_page",
        {"page_id": "0123456789abcdef0123456789abcdef"},
        target,
        credentials={"token": "secret_x"},
        configuration={"api_base": target.base},
    )


@path("telegram test connection")
async def _telegram_test(target: Target) -> Any:
    return await _connection_test(
        "telegram", target, credentials={"bot_token": "1:abc"}, configuration={"api_base": target.base}
    )


@path("telegram step")
async def _telegram_step(target: Target) -> Any:
    return await _step(
        "telegram",
        "send_message",
        {"chat_id": "42", "text": "Hello"},
        target,
        credentials={"bot_token": "1:abc"},
        configuration={"api_base": target.base},
    )


def _llm_paths(service: str) -> None:
    # The base path each SDK appends its routes to, as users write it.
    suffix = "/v1" if PROVIDERS[service].flavour == "openai" else ""

    async def connection_test(target: Target) -> Any:
        configuration = {"api_base": target.base + suffix}
        return await _connection_test(
            service, target, credentials={"api_key": "k"}, configuration=configuration
        )

    async def chat(target: Target) -> Any:
        configuration = {"api_base": target.base + suffix}
        return await _step(
            service,
            "prompt",
            {"prompt": "Hi"},
            target,
            credentials={"api_key": "k"},
            configuration=configuration,
        )

    path(f"{service} test connection")(connection_test)
    path(f"{service} chat step")(chat)
    if service in DEFAULT_EMBEDDING_MODELS:

        async def embeddings(target: Target) -> Any:
            access = EmbeddingAccess(
                PROVIDERS[service],
                uuid.uuid4(),
                DEFAULT_EMBEDDING_MODELS[service],
                {"api_key": "k"},
                {"api_base": target.base + suffix},
                target.policy,
            )
            clients = ModelClients()
            try:
                return await embed(clients, access, ["Hello"])
            finally:
                await clients.aclose()

        path(f"{service} embeddings")(embeddings)


for _service in PROVIDERS:
    _llm_paths(_service)


@path("health probe")
async def _health_probe(target: Target) -> Any:
    async with outbound_client(target.policy) as http:
        check = await check_service("probe", f"{target.base}/", http)
    assert check.status == "down"
    raise _Refused(str(check.error_message))


class _Refused(Exception):
    """How the health probe, which reports rather than raises, hands its message to the test."""


@pytest.fixture(scope="module")
def listener() -> Iterator[ConnectionCounter]:
    with ConnectionCounter("::").running() as counter:
        yield counter


@pytest.fixture(scope="module")
def public_server() -> Iterator[HttpEcho]:
    """Stands for a public server that redirects every call: the policy trusts its address."""
    with HttpEcho().running() as server:
        assert isinstance(server, HttpEcho)
        yield server


# The guard's answer; the health probe reports it by name ("unreachable: DestinationRefused").
REFUSED = re.compile(
    r"refusing to connect to .*only public addresses are allowed|DestinationRefused"
    r"|Invalid IPv4 address"  # httpx itself refuses to parse some forms (0177.0.0.1): no connection either
)


async def _refusal(request_path: RequestPath, target: Target) -> str:
    with pytest.raises(Exception) as raised:  # noqa: PT011 - each path raises its own kind
        await request_path(target)
    return str(getattr(raised.value, "message", raised.value))


# Each test runs one path against every host form and lists every form that got through.


@pytest.mark.parametrize("path_name", sorted(PATHS))
async def test_an_internal_address_is_refused_on_every_path_without_connecting(
    path_name: str, listener: ConnectionCounter
) -> None:
    got_through = []
    for host in HOST_FORMS:
        before = listener.connections()
        message = await _refusal(PATHS[path_name], Target(f"http://{host}:{listener.port}", STRICT))
        if listener.connections() != before or not REFUSED.search(message):
            got_through.append((host, message))

    assert got_through == []


@pytest.mark.parametrize("path_name", sorted(PATHS))
async def test_a_redirect_to_an_internal_address_is_refused_on_every_path_without_connecting(
    path_name: str, listener: ConnectionCounter, public_server: HttpEcho
) -> None:
    policy = OutboundPolicy(
        allowed_hosts=frozenset({f"127.0.0.1:{public_server.port}"}),
        connect_timeout=1.0,
        read_timeout=1.0,
        total_timeout=2.0,
    )
    got_through = []
    for host in HOST_FORMS:
        public_server.requests.clear()
        public_server.bounce_to = f"http://{host}:{listener.port}"
        before = listener.connections()
        message = await _refusal(PATHS[path_name], Target(f"{public_server.url}/bounce", policy))
        # httpx refuses a Location it cannot parse (0177.0.0.1) before any transport sees it.
        refused = REFUSED.search(message) or (host == "0177.0.0.1" and "Error" in message)
        if listener.connections() != before or not refused or not public_server.requests:
            got_through.append((host, message))

    assert got_through == []


@pytest.mark.parametrize(
    "path_name", ["http_request step", "gmail test connection (token_url)", "openai test connection"]
)
async def test_the_listener_counts_the_connection_when_the_private_network_is_allowed(
    path_name: str, listener: ConnectionCounter
) -> None:
    # The control for the tests above: the same request, allowed, does reach the listener (the
    # SDKs' own control is tests/connectors/llm/test_private_network.py).
    allowed = OutboundPolicy(allow_private_network=True, read_timeout=0.2, total_timeout=1.0)
    before = listener.connections()

    with pytest.raises(Exception):  # noqa: B017, PT011 - the listener never answers
        await PATHS[path_name](Target(f"http://127.0.0.1:{listener.port}", allowed))

    assert listener.connections() > before
