"""API keys: create one (its full value shown this once), see each key's use, revoke."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import RedirectResponse, Response

from autofy.api_keys import service as api_keys_service
from autofy.api_keys.schemas import ApiKeyCreate, ApiKeyCreated
from autofy.auth.dependencies import AppSettings, RequestMeta
from autofy.errors import DomainError
from autofy.security.api_keys import ApiKeyHasher
from autofy.web.dependencies import PageSession, SignedIn, SignedInPage
from autofy.web.pages.account import domain_errors, field_errors
from autofy.web.rendering import render

router = APIRouter()

# The expiries offered, as GitHub offers them: days from now, or never.
EXPIRIES: tuple[tuple[str, str], ...] = (
    ("7", "In 7 days"),
    ("30", "In 30 days"),
    ("90", "In 90 days"),
    ("365", "In a year"),
    ("never", "Never"),
)
DEFAULT_EXPIRY = "90"
PERMISSIONS: tuple[tuple[str, str], ...] = (
    ("read", "Read: list and view workflows, runs, integrations and the catalog."),
    ("write", "Write: create and change workflows and integrations (includes read)."),
    ("execute", "Execute: start runs and send test events (includes read)."),
    ("admin", "Admin: everything, including creating and revoking API keys."),
)


def _expiry(choice: str) -> datetime | None:
    return None if choice == "never" else datetime.now(UTC) + timedelta(days=int(choice))


async def _keys_page(
    request: Request,
    page: SignedIn,
    session: AsyncSession,
    *,
    created: ApiKeyCreated | None = None,
    revoked: uuid.UUID | None = None,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    keys = await api_keys_service.list_keys(session)
    context = {
        "keys": keys,
        "now": datetime.now(UTC),
        "created": created,
        "revoked": next((key for key in keys if key.id == revoked), None),
        "values": {"name": "", "permissions": ["read"], "expiry": DEFAULT_EXPIRY} | (values or {}),
        "errors": errors or {},
        "expiries": EXPIRIES,
        "permissions": PERMISSIONS,
        "external_url": request.app.state.settings.external_url,
    }
    response = render(request, "keys/list.html", context, viewer=page.viewer, status_code=status_code)
    if created is not None:
        # The one response that holds the full key: no cache keeps a copy of it.
        response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/api-keys")
async def list_keys(
    request: Request, page: SignedInPage, session: PageSession, revoked: uuid.UUID | None = None
) -> Response:
    return await _keys_page(request, page, session, revoked=revoked)


@router.post("/api-keys")
async def create_key(
    request: Request,
    page: SignedInPage,
    session: PageSession,
    settings: AppSettings,
    meta: RequestMeta,
    name: Annotated[str, Form()] = "",
    permissions: Annotated[list[str] | None, Form()] = None,
    expiry: Annotated[str, Form()] = DEFAULT_EXPIRY,
) -> Response:
    values = {"name": name, "permissions": permissions or [], "expiry": expiry}
    if expiry not in dict(EXPIRIES):
        return await _keys_page(
            request,
            page,
            session,
            values=values,
            errors={"expiry": "Choose one of the listed expiries."},
            status_code=422,
        )
    try:
        wanted = ApiKeyCreate.model_validate(
            {"name": name, "permissions": permissions or [], "expires_at": _expiry(expiry)}
        )
    except ValidationError as error:
        problems = field_errors(error, {"permissions": "Tick at least one permission."})
        return await _keys_page(request, page, session, values=values, errors=problems, status_code=422)
    try:
        created = await api_keys_service.create(
            session, page.principal, wanted, hasher=ApiKeyHasher.from_settings(settings), meta=meta
        )
    except DomainError as error:  # a name one of the user's keys already has
        problems, _ = domain_errors(error)
        return await _keys_page(
            request, page, session, values=values, errors=problems, status_code=error.status_code
        )
    return await _keys_page(request, page, session, created=created, status_code=201)


@router.post("/api-keys/{key_id}/revoke")
async def revoke_key(
    key_id: uuid.UUID, page: SignedInPage, session: PageSession, meta: RequestMeta
) -> Response:
    await api_keys_service.revoke(session, page.principal, key_id, meta=meta)
    return RedirectResponse(f"/api-keys?revoked={key_id}", status_code=303)
