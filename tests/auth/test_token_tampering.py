"""Access tokens the API must refuse: expired, unsigned, wrongly signed, wrong audience, revoked."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest

from autofy.security.tokens import issue_access_token
from tests.api_fixtures import TEST_JWT_SECRET, SignedUpUser, sign_up
from tests.auth.helpers import assert_error


def _claims_of(user: SignedUpUser) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(user.access_token, options={"verify_signature": False})
    return claims


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def _me(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})


async def test_the_issued_token_carries_supabases_claim_set(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)

    claims = _claims_of(user)
    header = jwt.get_unverified_header(user.access_token)

    assert header["alg"] == "HS256"
    assert claims["sub"] == str(user.user_id)
    assert claims["role"] == "authenticated"
    assert claims["aud"] == "authenticated"
    assert claims["email"] == user.email
    assert claims["exp"] - claims["iat"] == 3600
    uuid.UUID(claims["session_id"])


async def test_an_expired_token_gets_401(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    claims = _claims_of(user)
    expired = issue_access_token(
        secret=TEST_JWT_SECRET,
        user_id=user.user_id,
        email=user.email,
        session_id=uuid.UUID(claims["session_id"]),
        ttl_seconds=60,
        now=datetime.now(UTC) - timedelta(hours=2),
    )

    error = assert_error(await _me(client, expired.token), 401, "unauthorized")
    assert "expired" in error["message"]


async def test_an_unsigned_alg_none_token_gets_401(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims_of(user))}."

    assert_error(await _me(client, unsigned), 401, "unauthorized")


@pytest.mark.parametrize(
    ("change", "secret", "algorithm"),
    [
        pytest.param(
            {}, "another-secret-that-is-long-enough-for-hs256-000000", "HS256", id="wrong-signature"
        ),
        pytest.param({}, TEST_JWT_SECRET + "-but-not-quite-the-same-secret", "HS512", id="other-algorithm"),
        pytest.param({"aud": "someone-else"}, TEST_JWT_SECRET, "HS256", id="wrong-audience"),
        pytest.param({"role": "service_role"}, TEST_JWT_SECRET, "HS256", id="service-role-claim"),
        pytest.param({"session_id": str(uuid.uuid4())}, TEST_JWT_SECRET, "HS256", id="unknown-session"),
        pytest.param({"session_id": None}, TEST_JWT_SECRET, "HS256", id="no-session"),
        pytest.param({"sub": "not-a-uuid"}, TEST_JWT_SECRET, "HS256", id="bad-subject"),
    ],
)
async def test_a_tampered_token_gets_401(
    client: httpx.AsyncClient, change: dict[str, Any], secret: str, algorithm: str
) -> None:
    user = await sign_up(client)
    claims = {key: value for key, value in (_claims_of(user) | change).items() if value is not None}
    forged = jwt.encode(claims, secret, algorithm=algorithm)

    response = await _me(client, forged)

    assert_error(response, 401, "unauthorized")
    assert "WWW-Authenticate" in response.headers


async def test_a_token_with_a_modified_payload_gets_401(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    other = await sign_up(client)
    header, _, signature = user.access_token.split(".")
    swapped_payload = _b64(_claims_of(user) | {"sub": str(other.user_id)})

    assert_error(await _me(client, f"{header}.{swapped_payload}.{signature}"), 401, "unauthorized")


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "Bearer", "x" * 5000])
async def test_garbage_bearer_values_get_401(client: httpx.AsyncClient, garbage: str) -> None:
    assert_error(await _me(client, garbage), 401, "unauthorized")


async def test_a_token_of_a_signed_out_session_gets_401(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    assert (await client.post("/api/v1/auth/signout", headers=user.headers)).status_code == 204

    error = assert_error(await _me(client, user.access_token), 401, "unauthorized")
    assert "signed out" in error["message"]
