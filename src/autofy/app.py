"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from autofy import __version__
from autofy.api_keys.router import router as api_keys_router
from autofy.audit.router import router as audit_router
from autofy.auth.router import router as auth_router
from autofy.chat.router import router as chat_router
from autofy.config import Settings
from autofy.connectors.llm.clients import ModelClients
from autofy.connectors.router import router as catalog_router
from autofy.db.engine import Database
from autofy.engine.router import router as engine_router
from autofy.error_handlers import install_error_handling
from autofy.executions.router import router as executions_router
from autofy.input_guard import refuse_unstorable_input
from autofy.integrations.router import router as integrations_router
from autofy.notifications.router import router as notifications_router
from autofy.observability.logs import RequestIdMiddleware
from autofy.observability.metrics import HttpRequestsMiddleware
from autofy.profiles.router import router as profiles_router
from autofy.security.crypto import CredentialCipher
from autofy.status.router import router as status_router
from autofy.templates.router import router as templates_router
from autofy.triggers.admission import WebhookAdmission, WebhookAdmissionMiddleware, backlog_watched
from autofy.triggers.intake import WebhookIntake
from autofy.triggers.polling import ConnectorAccess
from autofy.triggers.router import hooks_router
from autofy.triggers.router import router as triggers_router
from autofy.triggers.service import on_workflow_status_changed
from autofy.usage.router import router as usage_router
from autofy.web import mount_web
from autofy.workflows.router import router as workflows_router
from autofy.workflows.service import StatusChange

# Every router of the API, in the order the OpenAPI document lists them. Webhook deliveries come
# first: they are the busiest route, and FastAPI tries routes in order (a deliveries' match through
# every route before it cost ~13 % of the API's CPU under load).
ROUTERS: tuple[APIRouter, ...] = (
    hooks_router,
    status_router,
    auth_router,
    profiles_router,
    api_keys_router,
    audit_router,
    catalog_router,
    integrations_router,
    workflows_router,
    triggers_router,
    templates_router,
    executions_router,
    usage_router,
    engine_router,
    chat_router,
    notifications_router,
)


def create_app(settings: Settings, database_url: str) -> FastAPI:
    """An Autofy API on `database_url`; `settings` must already carry its secrets."""
    if settings.jwt_secret is None:
        raise ValueError("create_app needs settings with a JWT secret (see runtime.with_secrets)")
    # No key, no start: a bad AUTOFY_ENCRYPTION_KEYS fails here with a clear message, not at the
    # first request that touches a credential.
    CredentialCipher.from_settings(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = Database(database_url, pool_size=settings.db_pool_size)
        app.state.database = database
        # Assistant turns commit their credit reservation apart from their own transaction, on a
        # pool of its own: a burst of turns holding every request connection cannot starve it.
        app.state.reservations_database = Database(database_url, pool_size=2)
        # The assistant's and the search's LLM clients, reused across requests on this loop.
        app.state.model_clients = ModelClients()
        app.state.webhook_intake = WebhookIntake(database)
        try:
            async with backlog_watched(app.state.webhook_admission, database):
                yield
        finally:
            await app.state.model_clients.aclose()
            await app.state.reservations_database.dispose()
            await database.dispose()

    app = FastAPI(
        title="Autofy",
        version=__version__,
        description=(
            "Self-hostable workflow automation.\n\n"
            "Authenticate with `Authorization: Bearer <access token>` (from `POST /api/v1/auth/signin`) "
            "or with an API key, as `X-API-Key: afy_…` or as the bearer token. Every error has the "
            'shape `{"error": {"code", "message", "details": [{"field", "message"}]}}`.'
        ),
        lifespan=lifespan,
        # One check for every route: text PostgreSQL cannot store, or a body nested too deep,
        # is refused with a 4xx naming the field, never a 500 from the statement.
        dependencies=[Depends(refuse_unstorable_input)],
        # Served by the web app from files in the package, so they work without internet.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    admission = WebhookAdmission(
        max_in_flight=settings.webhook_max_in_flight, max_backlog=settings.webhook_max_backlog
    )
    app.state.webhook_admission = admission
    # Set when the server begins to stop: long-lived responses (the pages' live updates) end on it,
    # since the HTTP server waits for every open response before it lets the process exit.
    app.state.stopping = asyncio.Event()
    connectors = ConnectorAccess.from_settings(settings)

    async def sync_triggers(session: AsyncSession, change: StatusChange) -> None:
        # A workflow's trigger (webhook, schedule, email cursor) follows its status and edits,
        # in the same transaction as the change.
        await on_workflow_status_changed(
            session, change.workflow.id, change.workflow.status, connectors=connectors
        )

    app.state.workflow_status_hooks = (sync_triggers,)
    install_error_handling(app, max_request_bytes=settings.max_request_bytes)
    # Added last, so outermost: every request is timed and gets an id, errors included.
    app.add_middleware(HttpRequestsMiddleware)
    app.add_middleware(RequestIdMiddleware)
    for router in ROUTERS:
        app.include_router(router)
    mount_web(app, settings)
    # Outermost of all: under overload most deliveries are refused, each at the least cost.
    app.add_middleware(WebhookAdmissionMiddleware, admission=admission)
    return app
