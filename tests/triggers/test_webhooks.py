"""Webhook deliveries through the real app: bodies, size limit, signatures, idempotency, and what
unknown callers learn; the owner's webhook routes."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

from autofy.db import tables
from autofy.db.engine import Database, user_claims
from autofy.input_guard import MAX_JSON_DEPTH
from autofy.observability.metrics import REGISTRY
from autofy.triggers.tables import workflow_webhooks
from autofy.triggers.webhook import MAX_WEBHOOK_BODY_BYTES, sign
from tests.api_fixtures import sign_up
from tests.factories import User, Workflow, create_user, create_workflow
from tests.triggers.conftest import executions_of, set_credits


async def webhook_workflow(
    database: Database, activate: Any, user: User | None = None, **trigger_config: Any
) -> tuple[User, Workflow]:
    user = user or await create_user(database)
    workflow = await create_workflow(database, user, trigger_type="webhook", trigger_config=trigger_config)
    await activate(workflow, user)
    return user, workflow


async def hook_path(database: Database, workflow: Workflow) -> str:
    async with database.service_session() as session:
        token = await session.scalar(
            select(workflow_webhooks.c.token).where(workflow_webhooks.c.workflow_id == workflow.id)
        )
    assert token is not None
    return f"/hooks/{token}"


async def signing_secret(database: Database, workflow: Workflow) -> str:
    async with database.service_session() as session:
        secret = await session.scalar(
            select(workflow_webhooks.c.signing_secret).where(workflow_webhooks.c.workflow_id == workflow.id)
        )
    assert secret is not None
    return secret


def signed_headers(secret: str, body: bytes, *, at: float | None = None) -> dict[str, str]:
    timestamp = str(int(at if at is not None else time.time()))
    return {
        "Content-Type": "application/json",
        "X-Autofy-Timestamp": timestamp,
        "X-Autofy-Signature": sign(secret, timestamp, body),
    }


# --- bodies -----------------------------------------------------------------------------------------


async def test_a_json_delivery_starts_a_run_with_body_headers_and_query(
    client: httpx.AsyncClient, database: Database, activate: Any
) -> None:
    _, workflow = await webhook_workflow(database, activate)
    path = await hook_path(database, workflow)

    response = await client.post(
        f"{path}?source=shop&tag=a&tag=b",
        json={"order": 42, "items": ["tea"]},
        headers={"X-Shop": "demo", "Authorization": "Bearer do-not-keep", "Cookie": "session=secret"},
    )

    assert response.status_code == 202, response.text
    [execution] = await executions_of(database, workflow.id)
    assert response.json() == {"execution_id": str(execution["id"])}
    data = execution["trigger_data"]
    assert data["body"] == {"order": 42, "items": ["tea"]}
    assert data["query"] == {"source": "shop", "tag": ["a", "b"]}
    assert data["headers"]["x-shop"] == "demo"
    assert "authorization" not in data["headers"]
    assert "cookie" not in data["headers"]
    assert execution["metadata"]["trigger_type"] == "webhook"


async def test_a_form_delivery_gives_its_fields(
    client: httpx.AsyncClient, database: Database, activate: Any
) -> None:
    _, workflow = await webhook_workflow(database, activate)

    response = await client.put(await hook_path(database, workflow), data={"name": "Ada", "plan": "pro"})

    assert response.status_code == 202, response.text
    [execution] = await executions_of(database, workflow.id)
    assert execution["trigger_data"]["body"] == {"name": "Ada", "plan": "pro"}


async def test_a_raw_delivery_keeps_the_text_and_its_content_type(
    client: httpx.AsyncClient, database: Database, activate: Any
) -> None:
    _, workflow = await webhook_workflow(database, activate)

    response = await client.post(
        await hook_path(database, workflow),
        content=b"<ping>1</ping>",
        headers={"Content-Type": "application/xml"},
    )

    assert response.status_code == 202, response.text
    [execution] = await executions_of(database, workflow.id)
    assert execution["trigger_data"]["body"] == {"raw": "<ping>1</ping>", "content_type": "application/xml"}


async def test_invalid_json_is_refused_and_starts_nothing(
    client: httpx.AsyncClient, database: Database, activate: Any
) -> None:
    _, workflow = await webhook_workflow(database, activate)

    response = await client.post(
        await hook_path(database, workflow),
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 422
    assert await executions_of(database, workflow.id) == []


async def test_bodies_postgresql_cannot_store_are_kept_whole_as_base64(
    client: httpx.AsyncClient, database: Database, activate: Any
) -> None:
    _, workflow = await webhook_workflow(database, activate)
    path = await hook_path(database, workflow)
    deliveries = [
        (b'{"note": "a\\u0000b"}', "application/json", "note contains a NUL character"),
        (b'{"name": "\\ud83d"}', "application/json", "name contains an unpaired UTF-16 surrogate"),
        (b'{"ratio": NaN}', "application/json", "ratio is not a finite number"),
        (b"name=Ada%00&plan=pro", "application/x-www-form-urlencoded", "name contains a NUL character"),
        (b"<ping>\x00</ping>", "text/xml", "raw contains a NUL character"),
    ]

    for body, content_type, _ in deliveries:
        response = await client.post(path, content=body, headers={"Content-Type": content_type})
        assert response.status_code == 202, (body, response.text)

    executions = await executions_of(database, workflow.id)
    kept = {base64.b64decode(execution["trigger_data"]["body"]["raw"]): execution for execution in executions}
    assert set(kept) == {body for body, _, _ in deliveries}  # lossless: every byte as sent
    for body, content_type, unstorable in deliveries:
        stored = kept[body]["trigger_data"]["body"]
        assert stored["encoding"] == "base64"
        assert stored["content_type"] == content_type
        assert stored["unstorable"].startswith(unstorable), stored["unstorable"]


async def test_a_delivery_nested_too_deep_or_with_a_nul_in_its_query_is_refused_with_400(
    client: httpx.AsyncClient, database: Database, activate: Any
) -> None:
    _, workflow = await webhook_workflow(database, activate)
    path = await hook_path(database, workflow)

    for depth in (MAX_JSON_DEPTH + 1, 2_000):
        body = "[" * depth + "]" * depth
        response = await client.post(path, content=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 400, (depth, response.text)
        assert "levels deep" in response.json()["error"]["message"]
    query = await client.post(path, params={"source": "a\u0000"}, json={})

    assert query.status_code == 400, query.text
    assert query.json()["error"]["details"][0]["field"] == "query.source"
    assert await executions_of(database, workflow.id) == []


async def test_a_body_over_the_limit_is_refused_with_413(
    client: httpx.AsyncClient, database: Database, activate: Any
) -> None:
    _, workflow = await webhook_workflow(database, activate)
    path = await hook_path(database, workflow)
    too_large = b"x" * (MAX_WEBHOOK_BODY_BYTES + 1)

    declared = await client.post(path, content=too_large, headers={"Content-Type": "text/plain"})

    async def chunks() -> Any:  # no Content-Length: counted while it streams
        for start in range(0, len(too_large), 64 * 1024):
            yield too_large[start : start + 64 * 1024]

    streamed = await client.post(path, content=chunks(), headers={"Content-Type": "text/plain"})

    assert declared.status_code == 413
    assert streamed.status_code == 413
    assert streamed.json()["error"]["code"] == "payload_too_large"
    assert await executions_of(database, workflow.id) == []


# --- signatures ---------------------------------------------------------------------------------------


async def test_a_signed_delivery_is_accepted_when_signatures_are_required(
    client: httpx.AsyncClient, database: Database, activate: Any
) -> None:
    _, workflow = await webhook_workflow(database, activate, require_signature=True)
    body = b'{"event": "paid"}'

    response = await client.post(
        await hook_path(database, workflow),
        content=body,
        headers=signed_headers(await signing_secret(database, workflow), body),
    )

    assert response.status_code == 202, response.text
    [execution] = await executions_of(database, workflow.id)
    assert "x-autofy-signature" not in execution["trigger_data"]["headers"]


async def test_a_replayed_signed_delivery_starts_nothing_new(
    client: httpx.AsyncClient, database: Database, activate: Any
) -> None:
    _, workflow = await webhook_workflow(database, activate)
    path = await hook_path(database, workflow)
    body = b'{"event": "paid"}'
    headers = signed_headers(await signing_secret(database, workflow), body)

    first = await client.post(path, content=body, headers=headers)
    replays = await asyncio.gather(
        *(
            client.post(path, content=body, headers=headers | {"Idempotency-Key": f"new-{n}"})
            for n in range(10)
        )
    )
    signed_anew = await client.post(
        path,
        content=body,
        headers=signed_headers(await signing_secret(database, workflow), body, at=time.time() + 1),
    )

    assert first.status_code == 202, first.text
    assert {replay.status_code for replay in replays} == {202}
    assert {replay.json()["execution_id"] for replay in replays} == {first.json()["execution_id"]}
    assert signed_anew.status_code == 202  # a new timestamp, a new delivery
    assert len(await executions_of(database, workflow.id)) == 2


async def test_signatures_are_forgotten_once_they_expire(
    client: httpx.AsyncClient, database: Database, activate: Any
) -> None:
    _, workflow = await webhook_workflow(database, activate)
    path = await hook_path(database, workflow)
    async with database.service_session() as session:
        await session.execute(
            text(
                "insert into webhook_signatures_seen (workflow_id, signature, expires_at) "
                "values (:id, 'sha256=old', now() - interval '1 second')"
            ),
            {"id": workflow.id},
        )
    body = b"{}"

    response = await client.post(
        path, content=body, headers=signed_headers(await signing_secret(database, workflow), body)
    )

    assert response.status_code == 202, response.text
    async with database.service_session() as session:
        remembered = (await session.execute(text("select signature from webhook_signatures_seen"))).scalars()
        assert [
            signature.startswith("sha256=") and signature != "sha256=old" for signature in remembered
        ] == [True]


def standard_webhooks_headers(
    whsec: str, webhook_id: str, body: bytes, *, at: float | None = None
) -> dict[str, str]:
    """Signed as the Standard Webhooks specification says, from the `whsec_` secret alone."""
    timestamp = str(int(at if at is not None else time.time()))
    key = base64.b64decode(whsec.removeprefix("whsec_"))
    digest = hmac.new(key, f"{webhook_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return {
        "Content-Type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": f"v1,{base64.b64encode(b'not-this-one').decode()} v1,{base64.b64encode(digest).decode()}",
    }


async def test_standard_webhooks_deliveries_are_accepted_and_deduplicated_on_their_id(
    client: httpx.AsyncClient, database: Database, activate: Any
) -> None:
    owner, workflow = await owned_webhook_workflow(client, database, activate)
    path = await hook_path(database, workflow)
    endpoint = await client.get(f"/api/v1/workflows/{workflow.id}/webhook", headers=owner.headers)
    whsec = endpoint.json()["standard_webhooks_secret"]
    body = b'{"type": "invoice.paid"}'

    first = await client.post(path, content=body, headers=standard_webhooks_headers(whsec, "msg_1", body))
    # The sender's retry: the same id, signed again later.
    retry = await client.post(
        path, content=body, headers=standard_webhooks_headers(whsec, "msg_1", body, at=time.time() + 5)
    )
    other = await client.post(path, content=body, headers=standard_webhooks_headers(whsec, "msg_2", body))
    forged = await client.post(
        path,
        content=body,
        headers=standard_webhooks_headers("whsec_" + base64.b64encode(b"guess").decode(), "msg_3", body),
    )
    stale = await client.post(
        path, content=body, headers=standard_webhooks_headers(whsec, "msg_4", body, at=time.time() - 600)
    )

    assert first.status_code == 202, first.text
    assert retry.status_code == 202
    assert retry.json() == first.json()
    assert other.status_code == 202
    assert other.json() != first.json()
    assert (forged.status_code, stale.status_code) == (404, 404)
    executions = await executions_of(database, workflow.id)
    assert len(executions) == 2
    assert all("webhook-signature" not in execution["trigger_data"]["headers"] for execution in executions)


async def test_a_signing_secret_of_the_workflows_own_is_the_key(
    client: httpx.AsyncClient, database: Database, activate: Any
) -> None:
    _, workflow = await webhook_workflow(database, activate, signing_secret="chosen-with-the-sender")
    path = await hook_path(database, workflow)
    body = b'{"event": "paid"}'

    with_generated = await client.post(
        path, content=body, headers=signed_headers(await signing_secret(database, workflow), body)
    )
    with_own = await client.post(path, content=body, headers=signed_headers("chosen-with-the-sender", body))

    assert with_generated.status_code == 404
    assert with_own.status_code == 202


@pytest.mark.parametrize("flaw", ["unsigned", "wrong secret", "body changed", "stale", "from the future"])
async def test_a_badly_signed_delivery_is_refused(
    client: httpx.AsyncClient, database: Database, activate: Any, flaw: str
) -> None:
    _, workflow = await webhook_workflow(database, activate, require_signature=True)
    secret = await signing_secret(database, workflow)
    body = b'{"event": "paid"}'
    headers = {
        "unsigned": {"Content-Type": "application/json"},
        "wrong secret": signed_headers("not-the-secret", body),
        "body changed": signed_headers(secret, b'{"event": "refunded"}'),
        "stale": signed_headers(secret, body, at=time.time() - 310),
        "from the future": signed_headers(secret, body, at=time.time() + 310),
    }[flaw]

    response = await client.post(await hook_path(database, workflow), content=body, headers=headers)

    assert response.status_code == 404
    assert await executions_of(database, workflow.id) == []


async def test_unknown_paused_and_badly_signed_hooks_look_the_same(
    client: httpx.AsyncClient, database: Database, activate: Any
) -> None:
    user, paused = await webhook_workflow(database, activate)
    await activate(paused, user, status="paused")
    _, signed = await webhook_workflow(database, activate, user, require_signature=True)
    body = b'{"hello": "world"}'
    targets = {
        "unknown": f"/hooks/{uuid.uuid4().hex}{uuid.uuid4().hex}",
        "paused": await hook_path(database, paused),
        "bad signature": await hook_path(database, signed),
    }

    rejected_before = (
        REGISTRY.get_sample_value("autofy_webhook_rejections_total", {"reason": "not_found"}) or 0
    )
    answers = {}
    for name, path in targets.items():
        response = await client.post(path, content=body, headers=signed_headers("guess", body))
        answers[name] = (response.status_code, response.content, sorted(response.headers.keys()))

    # Counted, under one reason: the metrics must not tell the three apart either.
    rejected = REGISTRY.get_sample_value("autofy_webhook_rejections_total", {"reason": "not_found"})
    assert rejected == rejected_before + 3
    assert answers["unknown"][0] == 404
    assert answers["unknown"] == answers["paused"] == answers["bad signature"]
    assert await executions_of(database, paused.id) == []
    assert await executions_of(database, signed.id) == []


# --- idempotency and durability ------------------------------------------------------------------------


async def test_concurrent_duplicate_deliveries_start_one_run(
    client: httpx.AsyncClient, database: Database, activate: Any
) -> None:
    _, workflow = await webhook_workflow(database, activate)
    path = await hook_path(database, workflow)

    responses = await asyncio.gather(
        *(client.post(path, json={"n": 1}, headers={"Idempotency-Key": "delivery-7"}) for _ in range(20))
    )

    assert {response.status_code for response in responses} == {202}
    [execution] = await executions_of(database, workflow.id)
    assert {response.json()["execution_id"] for response in responses} == {str(execution["id"])}
    other = await client.post(path, json={"n": 2}, headers={"Idempotency-Key": "delivery-8"})
    assert other.status_code == 202
    assert len(await executions_of(database, workflow.id)) == 2


async def test_the_run_is_committed_and_queued_when_202_arrives(
    client: httpx.AsyncClient, database: Database, activate: Any
) -> None:
    _, workflow = await webhook_workflow(database, activate)

    response = await client.post(await hook_path(database, workflow), json={})
    execution_id = uuid.UUID(response.json()["execution_id"])

    # Another connection reads it at once: the delivery's transaction committed before answering.
    async with database.service_session() as session:
        status = await session.scalar(
            select(tables.workflow_executions.c.execution_status).where(
                tables.workflow_executions.c.id == execution_id
            )
        )
        queued = await session.scalar(
            text(
                "select count(*) from pgqueuer "
                "where convert_from(payload, 'UTF8')::jsonb ->> 'execution_id' = :id"
            ),
            {"id": str(execution_id)},
        )
    assert status == "running"
    assert queued == 1


async def test_a_delivery_past_the_credits_limit_gets_402(
    client: httpx.AsyncClient, database: Database, activate: Any
) -> None:
    user, workflow = await webhook_workflow(database, activate)
    await set_credits(database, user, used=10, limit=10)

    response = await client.post(await hook_path(database, workflow), json={})

    assert response.status_code == 402
    assert response.json()["error"]["code"] == "payment_required"
    # The sender (and the owner reading its logs) learns when to try again and how to get more.
    message = response.json()["error"]["message"]
    assert re.search(r"Credits reset on \d{4}-\d\d-01 at 00:00 UTC", message)
    assert "grant extra credits" in message
    assert await executions_of(database, workflow.id) == []


# --- the owner's routes ---------------------------------------------------------------------------------


async def owned_webhook_workflow(
    client: httpx.AsyncClient, database: Database, activate: Any
) -> tuple[Any, Workflow]:
    owner = await sign_up(client)
    user = User(id=owner.user_id, email=owner.email, claims=user_claims(owner.user_id, owner.email))
    _, workflow = await webhook_workflow(database, activate, user, require_signature=True)
    return owner, workflow


async def test_the_owner_reads_the_webhook_url_and_signing_state(
    client: httpx.AsyncClient, database: Database, activate: Any
) -> None:
    owner, workflow = await owned_webhook_workflow(client, database, activate)

    response = await client.get(f"/api/v1/workflows/{workflow.id}/webhook", headers=owner.headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["url"] == f"http://autofy.test{await hook_path(database, workflow)}"
    assert body["accepting"] is True
    assert body["signing_required"] is True
    assert body["signing_secret"] == await signing_secret(database, workflow)


async def test_rotating_replaces_the_url_and_the_old_one_stops_working(
    client: httpx.AsyncClient, database: Database, activate: Any
) -> None:
    owner, workflow = await owned_webhook_workflow(client, database, activate)
    old_path = await hook_path(database, workflow)
    old_secret = await signing_secret(database, workflow)

    response = await client.post(f"/api/v1/workflows/{workflow.id}/webhook/rotate", headers=owner.headers)

    assert response.status_code == 200, response.text
    new_path = await hook_path(database, workflow)
    new_secret = await signing_secret(database, workflow)
    assert new_path != old_path
    assert new_secret != old_secret
    assert response.json()["url"].endswith(new_path)
    body = b"{}"
    assert (
        await client.post(old_path, content=body, headers=signed_headers(old_secret, body))
    ).status_code == 404
    assert (
        await client.post(new_path, content=body, headers=signed_headers(new_secret, body))
    ).status_code == 202


async def test_another_users_webhook_is_not_found(
    client: httpx.AsyncClient, database: Database, activate: Any
) -> None:
    _, workflow = await owned_webhook_workflow(client, database, activate)
    stranger = await sign_up(client)

    read = await client.get(f"/api/v1/workflows/{workflow.id}/webhook", headers=stranger.headers)
    rotate = await client.post(f"/api/v1/workflows/{workflow.id}/webhook/rotate", headers=stranger.headers)

    assert read.status_code == rotate.status_code == 404
    assert "signing_secret" not in read.text


def documented_signers() -> dict[str, Any]:
    """The signing example of docs/triggers.md, run as written."""
    document = (Path(__file__).parents[2] / "docs" / "triggers.md").read_text(encoding="utf-8")
    block = document.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, Any] = {}
    exec(textwrap.dedent(block), namespace)  # noqa: S102 - our own documentation
    return namespace


async def test_the_documented_signing_example_works_for_both_header_sets(
    client: httpx.AsyncClient, database: Database, activate: Any
) -> None:
    owner, workflow = await owned_webhook_workflow(client, database, activate)
    path = await hook_path(database, workflow)
    endpoint = (await client.get(f"/api/v1/workflows/{workflow.id}/webhook", headers=owner.headers)).json()
    docs = documented_signers()
    body = docs["body"]
    json_type = {"Content-Type": "application/json"}

    autofy = await client.post(
        path, content=body, headers=json_type | docs["autofy_headers"](endpoint["signing_secret"], body)
    )
    standard = await client.post(
        path,
        content=body,
        headers=json_type
        | docs["standard_webhooks_headers"](endpoint["standard_webhooks_secret"], "msg_docs", body),
    )

    assert autofy.status_code == 202, autofy.text
    assert standard.status_code == 202, standard.text
    assert len(await executions_of(database, workflow.id)) == 2
