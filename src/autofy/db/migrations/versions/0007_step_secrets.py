"""Step secrets: HTTP credentials integrations, and secrets moved out of stored steps.

Each HTTP request step that holds credentials (an `auth` block, an `Authorization`/`X-API-Key`-like
header, a key in a query field) gets them moved into a new `http` integration of the workflow's
owner, encrypted, which the step then names by `integration_id`. Any other secret written in a
step (under a secret-named key, or a value in a known credential format) is blanked, in the steps
and in past executions' copies of them (`engine_plan`, each step result's `input`).

Encrypting needs the server's keys: the cipher given to `migrate.upgrade` (Alembic attribute
`credential_cipher`), else `AUTOFY_ENCRYPTION_KEYS`, else the embedded default's generated keys.
Without any, HTTP credentials are removed like any other secret (the step then runs
unauthenticated until it names an integration).

Revision ID: 0007_step_secrets
Revises: 0006_chat_search
"""

import json
import os
import uuid
from typing import Any

import httpx
from alembic import context, op
from sqlalchemy import text

from autofy.config import Settings
from autofy.connectors.http_credentials import credentials_in_step
from autofy.connectors.validation import scrub_secrets
from autofy.db.sql import run_sql_file
from autofy.runtime import DEV_SECRETS_FILE
from autofy.security.crypto import CredentialCipher, parse_encryption_keys

revision = "0007_step_secrets"
down_revision = "0006_chat_search"
branch_labels = None
depends_on = None

EXECUTIONS_PAGE = 500


def _cipher() -> CredentialCipher | None:
    """The server's cipher: given by the caller, else AUTOFY_ENCRYPTION_KEYS, else the keys the
    embedded default generated into its data folder (read, never created here)."""
    given = context.config.attributes.get("credential_cipher")
    if isinstance(given, CredentialCipher):
        return given
    keys = os.environ.get("AUTOFY_ENCRYPTION_KEYS")
    if not keys:
        settings = Settings()
        dev_secrets = settings.data_dir / DEV_SECRETS_FILE
        if settings.uses_embedded_database and dev_secrets.exists():
            keys = json.loads(dev_secrets.read_text()).get("encryption_keys")
    return CredentialCipher(parse_encryption_keys(keys)) if keys else None


def _api_base(url: Any) -> str | None:
    if not isinstance(url, str) or "{" in url:
        return None
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return None
    return f"{parsed.scheme}://{parsed.netloc.decode()}" if parsed.host else None


def _new_integration(
    bind: Any, cipher: CredentialCipher, row: Any, credentials: dict[str, str], url: Any
) -> uuid.UUID:
    integration_id = uuid.uuid4()
    api_base = _api_base(url)
    encrypted = cipher.encrypt(credentials, user_id=row.user_id, integration_id=integration_id)
    bind.execute(
        text(
            "insert into public.integrations (id, user_id, service_name, display_name, credentials, "
            "configuration, status, metadata) values (:id, :user_id, 'http', :name, "
            "cast(:credentials as jsonb), cast(:configuration as jsonb), 'active', cast(:metadata as jsonb))"
        ),
        {
            "id": integration_id,
            "user_id": row.user_id,
            "name": f"HTTP credentials from {row.workflow_name}"[:200],
            "credentials": json.dumps(encrypted),
            "configuration": json.dumps({"api_base": api_base} if api_base else {}),
            "metadata": json.dumps(
                {"credential_fields": sorted(credentials), "moved_from_step": str(row.id)}
            ),
        },
    )
    return integration_id


def _scrub_steps(bind: Any, cipher: CredentialCipher | None) -> None:
    rows = bind.execute(
        text(
            "select s.id, s.service_name, s.action_name, s.configuration, s.conditions, w.user_id, "
            "w.name as workflow_name from public.workflow_steps s "
            "join public.workflows w on w.id = s.workflow_id"
        )
    ).all()
    for row in rows:
        configuration = dict(row.configuration or {})
        if (row.service_name, row.action_name) == ("core", "http_request"):
            configuration, credentials = credentials_in_step(configuration)
            if credentials is not None and cipher is not None:
                integration_id = _new_integration(bind, cipher, row, credentials, configuration.get("url"))
                configuration["integration_id"] = str(integration_id)
        configuration = scrub_secrets(configuration)
        conditions = scrub_secrets(row.conditions or {}, "conditions")
        if configuration != (row.configuration or {}) or conditions != (row.conditions or {}):
            bind.execute(
                text(
                    "update public.workflow_steps set configuration = cast(:configuration as jsonb), "
                    "conditions = cast(:conditions as jsonb) where id = :id"
                ),
                {
                    "id": row.id,
                    "configuration": json.dumps(configuration),
                    "conditions": json.dumps(conditions),
                },
            )


def _scrub_executions(bind: Any) -> None:
    """Past executions' step copies, a page at a time: there may be millions of them."""
    last = uuid.UUID(int=0)
    while True:
        rows = bind.execute(
            text(
                "select id, engine_plan, step_results from public.workflow_executions "
                "where id > :last order by id limit :page"
            ),
            {"last": last, "page": EXECUTIONS_PAGE},
        ).all()
        if not rows:
            return
        last = rows[-1].id
        for row in rows:
            _scrub_execution(bind, row)


def _scrub_execution(bind: Any, row: Any) -> None:
    plan = [
        {
            **step,
            "configuration": scrub_secrets(step.get("configuration") or {}),
            "conditions": scrub_secrets(step.get("conditions") or {}, "conditions"),
        }
        for step in row.engine_plan or []
    ]
    results = [
        {**result, "input": scrub_secrets(result.get("input"))} if isinstance(result, dict) else result
        for result in row.step_results or []
    ]
    if plan != (row.engine_plan or []) or results != (row.step_results or []):
        bind.execute(
            text(
                "update public.workflow_executions set engine_plan = cast(:plan as jsonb), "
                "step_results = cast(:results as jsonb) where id = :id"
            ),
            {"id": row.id, "plan": json.dumps(plan), "results": json.dumps(results)},
        )


def upgrade() -> None:
    bind = op.get_bind()
    run_sql_file(bind, "0007_step_secrets_up.sql")
    _scrub_steps(bind, _cipher())
    _scrub_executions(bind)


def downgrade() -> None:
    run_sql_file(op.get_bind(), "0007_step_secrets_down.sql")
