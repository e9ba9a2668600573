"""Property-based: every operation of the OpenAPI document, fed what its schema allows (and what
it does not), signed in, answers without a 5xx and with a response its schema describes.

The app is served by uvicorn on a port of its own, on a database of its own for the module, and
called over HTTP: what a client sees. A few examples per operation keep the run short enough for
every CI run; schemathesis covers each operation's edges first (empty, longest, boundary values).
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, settings

from autofy.app import create_app
from autofy.config import Settings
from tests.api_fixtures import DEFAULT_PASSWORD, api_settings_for
from tests.conftest import TEMPLATE_DATABASE, _admin
from tests.support import database_url_with_name
from tests.test_cli import _free_port

EXAMPLES_PER_OPERATION = 4


@dataclass(frozen=True)
class ServedApi:
    base_url: str


def _serve(settings: Settings, database_url: str) -> tuple[uvicorn.Server, threading.Thread, str]:
    port = _free_port()
    config = uvicorn.Config(
        create_app(settings, database_url), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)  # uvicorn offers no event to wait on, only its `started` flag
    assert server.started, "uvicorn did not start"
    return server, thread, f"http://127.0.0.1:{port}"


def _api_key_of_a_new_account(base_url: str) -> str:
    with httpx.Client(base_url=base_url, timeout=30) as http:
        email = f"properties-{uuid.uuid4().hex[:8]}@example.com"
        signed_up = http.post("/api/v1/auth/signup", json={"email": email, "password": DEFAULT_PASSWORD})
        assert signed_up.status_code == 201, signed_up.text
        token = {"Authorization": f"Bearer {signed_up.json()['access_token']}"}
        created = http.post(
            "/api/v1/api-keys", json={"name": "properties", "permissions": ["admin"]}, headers=token
        )
        assert created.status_code == 201, created.text
    key: str = created.json()["key"]
    return key


@pytest.fixture(scope="module")
def served_api(postgres_server_url: str, template_database_url: str) -> Iterator[ServedApi]:
    name = f"autofy_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(postgres_server_url, f"create database {name} template {TEMPLATE_DATABASE}"))
    database_url = database_url_with_name(postgres_server_url, name)
    # Production's outbound policy: no generated URL may make the server call a private address.
    app_settings = api_settings_for(database_url, outbound_allow_private_network=False)
    server, thread, base_url = _serve(app_settings, database_url)
    try:
        _api_key["key"] = _api_key_of_a_new_account(base_url)
        yield ServedApi(base_url)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        asyncio.run(_admin(postgres_server_url, f"drop database if exists {name} with (force)"))


# The document depends on the code alone, not on the database (no connection is made here).
_DOCUMENT_SETTINGS = api_settings_for("postgresql://unused@127.0.0.1/unused")
schema = schemathesis.openapi.from_dict(
    create_app(_DOCUMENT_SETTINGS, "postgresql://unused@127.0.0.1/unused").openapi()
)


# The account's API key, once the served app has made it (schemathesis asks for it per call).
_api_key: dict[str, str] = {}


API_KEY_HEADER = "X-API-Key"
_NOT_YET = "afy_not_yet_made"


@schema.auth(refresh_interval=None)
class ApiKeyAuth:
    """Every permission, in `X-API-Key` as the document's `ApiKeyAuth` names it: schemathesis
    knows it is the credential, so it also checks that a call without it is refused. It stays
    valid whatever a generated request does to the account's sign-in sessions."""

    def get(self, case: schemathesis.Case, context: schemathesis.AuthContext) -> str:
        # Schemathesis prepares some cases while collecting, before the app runs and the key
        # exists: those carry a stand-in, which `before_call` swaps for the key.
        return _api_key.get("key", _NOT_YET)

    def set(self, case: schemathesis.Case, data: str, context: schemathesis.AuthContext) -> None:
        case.headers = {**(case.headers or {}), API_KEY_HEADER: data}


@schemathesis.hook
def before_call(
    context: schemathesis.HookContext, case: schemathesis.Case, kwargs: dict[str, object]
) -> None:
    if case.headers and case.headers.get(API_KEY_HEADER) == _NOT_YET:
        case.headers[API_KEY_HEADER] = _api_key["key"]


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_operation_answers_5xx_or_outside_its_schema(
    case: schemathesis.Case, served_api: ServedApi
) -> None:
    case.call_and_validate(
        base_url=served_api.base_url,
        timeout=30,
        # Valid input may still break a rule (a weak password, an unknown service): 4xx is right.
        # And Pydantic's lax parsing takes some input the document does not promise to (a Unix
        # time for a date-time): taken or refused, either is fine as long as it is not a 5xx.
        excluded_checks=[
            schemathesis.checks.positive_data_acceptance,
            schemathesis.checks.negative_data_rejection,
            # `PATCH /workflows/import` is `PATCH /workflows/{workflow_id}` with an id that is not
            # a UUID (422), not an undeclared method (405), and a 405 there rightly allows what
            # `/workflows/{workflow_id}` takes: the two checks cannot tell the paths apart.
            # (tests/test_errors.py checks 405 and its Allow header.)
            schemathesis.checks.unsupported_method,
            schemathesis.checks.allow_header_conformance,
        ],
    )
