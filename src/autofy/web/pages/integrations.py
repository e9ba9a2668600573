"""Integrations: connect a service of the catalog, test a connection, reconnect it, remove it.

The forms are generated from the catalog: each service's credential fields (secret ones as
password inputs, never shown again nor pre-filled) and the connection settings it takes. Every
change goes through the same integrations service as the API.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from autofy.auth.dependencies import RequestMeta
from autofy.config import Settings
from autofy.connectors.catalog import catalog
from autofy.connectors.sdk import Connector, CredentialField
from autofy.errors import DomainError
from autofy.integrations import service as integrations_service
from autofy.integrations.router import Cipher, Policy
from autofy.integrations.schemas import (
    Integration,
    IntegrationConfiguration,
    IntegrationCreate,
    IntegrationTestResult,
    IntegrationUpdate,
)
from autofy.web.dependencies import PageSession, SignedIn, SignedInPage
from autofy.web.rendering import render

router = APIRouter()
BodyT = TypeVar("BodyT", IntegrationCreate, IntegrationUpdate)

CREDENTIAL_PREFIX = "credentials."
SETTING_PREFIX = "configuration."
# Connection settings each service's form offers besides `api_base` (IntegrationConfiguration).
_SERVICE_SETTINGS: Mapping[str, tuple[str, ...]] = {
    "gmail": ("authorize_url", "token_url"),
    "notion": ("api_version",),
    "openai": ("organization", "timeout_seconds"),
    "anthropic": ("timeout_seconds",),
    "gemini": ("timeout_seconds",),
    "openrouter": ("site_url", "timeout_seconds"),
}
# What `?gmail=` says after Google sent the browser back (see the API's OAuth callback).
GMAIL_RESULTS: Mapping[str, tuple[str, str]] = {
    "connected": ("success", "Gmail is connected: Autofy can now read and send email for you."),
    "failed": ("error", "Google refused to connect Gmail; the integration below says why. Try again."),
    "denied": ("error", "Access was not granted on Google's page, so Gmail is not connected. Try again."),
    "invalid": (
        "error",
        "The link back from Google was invalid or expired (it lasts 10 minutes). Connect with Google again.",
    ),
}


@dataclass(frozen=True)
class Setting:
    name: str
    label: str
    hint: str


@dataclass(frozen=True)
class ServiceView:
    """A service of the catalog as its connect form shows it."""

    connector: Connector
    credential_fields: list[CredentialField]
    settings: list[Setting]

    @property
    def name(self) -> str:
        return self.connector.service_name

    @property
    def oauth(self) -> bool:
        return self.connector.auth.kind == "oauth2"

    @property
    def allows_several(self) -> bool:
        # HTTP credentials: one integration per API; every other service, one per account.
        return self.name == "http"


@dataclass
class FormState:
    """A form sent back with its problems: non-secret values kept, secrets never."""

    target: str  # "connect-<service>" or "reconnect-<integration id>"
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    message: str | None = None


def _settings_of(service_name: str) -> list[Setting]:
    fields = IntegrationConfiguration.model_fields
    names = ("api_base", *_SERVICE_SETTINGS.get(service_name, ()))
    labels = {"api_base": "API base URL", "timeout_seconds": "Time limit (seconds)"}
    return [
        Setting(name, labels.get(name, name.replace("_", " ").capitalize()), fields[name].description or "")
        for name in names
    ]


def _service_view(connector: Connector) -> ServiceView:
    # OAuth tokens come from Google's consent screen, not from the user's typing.
    credential_fields = [f for f in connector.auth.fields if f.required or connector.auth.kind != "oauth2"]
    return ServiceView(connector, credential_fields, _settings_of(connector.service_name))


def _services() -> list[ServiceView]:
    return [_service_view(c) for c in catalog().connectors if c.requires_integration]


def _service(service_name: str) -> ServiceView | None:
    return next((view for view in _services() if view.name == service_name), None)


async def _page(
    request: Request,
    page: SignedIn,
    session: AsyncSession,
    *,
    form: FormState | None = None,
    test_results: Mapping[uuid.UUID, IntegrationTestResult] | None = None,
    status_code: int = 200,
) -> Response:
    integrations = await integrations_service.list_integrations(session)
    connected = {integration.service_name for integration in integrations}
    services = _services()
    query = request.query_params
    notice = _notice(query, integrations)
    context = {
        "integrations": integrations,
        "services": {view.name: view for view in services},
        "available": [view for view in services if view.allows_several or view.name not in connected],
        "form": form,
        "test_results": test_results or {},
        "notice": notice,
    }
    return render(request, "integrations/list.html", context, viewer=page.viewer, status_code=status_code)


def _notice(query: Mapping[str, str], integrations: Sequence[Integration]) -> tuple[str, str] | None:
    """What the last action did, from the address it redirected to (no user text is reflected)."""
    by_id = {str(integration.id): integration for integration in integrations}
    if query.get("gmail") in GMAIL_RESULTS:
        return GMAIL_RESULTS[query["gmail"]]
    changed = by_id.get(query.get("connected", "")) or by_id.get(query.get("updated", ""))
    if changed is not None and changed.status == "inactive":  # OAuth: the grant is still to come
        return ("info", f"{changed.display_name}: the OAuth client is saved. Now choose Connect with Google.")
    if changed is not None:
        done = "is connected" if "connected" in query else "has new credentials"
        return ("success", f"{changed.display_name} {done}. Test the connection to check it works.")
    removed = _service(query.get("removed", ""))
    if removed is not None:
        return ("success", f"The {removed.connector.display_name} integration was removed.")
    return None


@router.get("/integrations")
async def list_integrations(request: Request, page: SignedInPage, session: PageSession) -> Response:
    return await _page(request, page, session)


def _form_values(form: FormData) -> dict[str, str]:
    return {key: value for key, value in form.items() if isinstance(value, str)}


def _credentials(values: Mapping[str, str]) -> dict[str, str]:
    return {
        key.removeprefix(CREDENTIAL_PREFIX): value
        for key, value in values.items()
        if key.startswith(CREDENTIAL_PREFIX) and value.strip()
    }


def _configuration(values: Mapping[str, str]) -> dict[str, str]:
    return {
        key.removeprefix(SETTING_PREFIX): value.strip()
        for key, value in values.items()
        if key.startswith(SETTING_PREFIX) and value.strip()
    }


def _kept_values(values: Mapping[str, str]) -> dict[str, str]:
    """The values a form shows again after a problem: everything but the credentials."""
    return {key: value for key, value in values.items() if not key.startswith(CREDENTIAL_PREFIX)}


def _field_problems(error: ValidationError, prefix: str = "") -> dict[str, str]:
    """Pydantic's problems by form field name (`credentials.token`, `configuration.api_base`)."""
    return {
        prefix + ".".join(str(part) for part in problem["loc"][:2]): problem["msg"].removeprefix(
            "Value error, "
        )
        for problem in error.errors()
    }


def _parsed(target: str, values: Mapping[str, str], model: type[BodyT], **fixed: Any) -> BodyT | FormState:
    """The form as the API's request model, or the form back with what is wrong in it."""
    try:
        configuration = IntegrationConfiguration.model_validate(_configuration(values))
    except ValidationError as error:
        errors = _field_problems(error, SETTING_PREFIX)
    else:
        try:
            return model.model_validate(
                {
                    "display_name": values.get("display_name", "").strip() or None,
                    "credentials": _credentials(values),
                    "configuration": configuration,
                    **fixed,
                }
            )
        except ValidationError as error:
            errors = _field_problems(error)
    return FormState(target, _kept_values(values), errors, "Some values are not valid; see the fields below.")


def _refused(target: str, values: Mapping[str, str], error: DomainError) -> FormState:
    errors = {detail["field"]: detail["message"] for detail in error.details if detail.get("field")}
    return FormState(target, _kept_values(values), errors, error.message)


@router.post("/integrations")
async def connect(
    request: Request, page: SignedInPage, session: PageSession, cipher: Cipher, meta: RequestMeta
) -> Response:
    """Create the integration from the service's connect form; Gmail goes on to Google's consent."""
    values = _form_values(await request.form())
    view = _service(values.get("service_name", ""))
    if view is None:
        return await _page(request, page, session, status_code=422)
    target = f"connect-{view.name}"
    body = _parsed(target, values, IntegrationCreate, service_name=view.name)
    if isinstance(body, FormState):
        return await _page(request, page, session, form=body, status_code=422)
    try:
        async with session.begin_nested():
            created = await integrations_service.create_integration(
                session, cipher, page.principal.user_id, body, meta=meta
            )
    except DomainError as error:
        form = _refused(target, values, error)
        return await _page(request, page, session, form=form, status_code=error.status_code)
    return _back_to(f"/integrations?connected={created.id}#integration-{created.id}")


@router.get("/integrations/gmail/authorize")
async def connect_with_google(
    request: Request, page: SignedInPage, session: PageSession, cipher: Cipher
) -> Response:
    """Send the browser to Google's consent screen for the Gmail integration's OAuth client.

    A link, not a form: the CSP's `form-action 'self'` stops a form's redirect to Google. It changes
    nothing here (the signed state names the caller), so a GET is safe from cross-site use.
    """
    settings: Settings = request.app.state.settings
    assert settings.jwt_secret is not None, "the app does not start without a JWT secret"
    authorization = await integrations_service.gmail_authorization(
        session,
        cipher,
        user_id=page.principal.user_id,
        secret=settings.jwt_secret.get_secret_value(),
        public_url=settings.external_url,
    )
    return RedirectResponse(authorization.authorization_url, status_code=303)


@router.post("/integrations/{integration_id}/reconnect")
async def reconnect(
    request: Request,
    integration_id: uuid.UUID,
    page: SignedInPage,
    session: PageSession,
    cipher: Cipher,
    meta: RequestMeta,
) -> Response:
    """New credentials (and settings) for a connection; its status starts over."""
    values = _form_values(await request.form())
    target = f"reconnect-{integration_id}"
    body = _parsed(target, values, IntegrationUpdate)
    if isinstance(body, FormState):
        return await _page(request, page, session, form=body, status_code=422)
    try:
        async with session.begin_nested():
            await integrations_service.update_integration(
                session, cipher, page.principal.user_id, integration_id, body, meta=meta
            )
    except DomainError as error:
        form = _refused(target, values, error)
        return await _page(request, page, session, form=form, status_code=error.status_code)
    return _back_to(f"/integrations?updated={integration_id}#integration-{integration_id}")


@router.post("/integrations/{integration_id}/test")
async def test_connection(
    request: Request,
    integration_id: uuid.UUID,
    page: SignedInPage,
    session: PageSession,
    cipher: Cipher,
    policy: Policy,
    meta: RequestMeta,
) -> Response:
    """Call the service with the stored credentials; htmx gets the integration's card back."""
    result = await integrations_service.run_connection_test(
        session, cipher, policy, page.principal.user_id, integration_id, meta=meta
    )
    if not request.headers.get("hx-request"):
        return await _page(request, page, session, test_results={integration_id: result})
    integration = await integrations_service.get_integration(session, integration_id)
    context = {
        "integration": integration,
        "services": {view.name: view for view in _services()},
        "form": None,
        "test_results": {integration_id: result},
    }
    return render(request, "integrations/_connection.html", context, viewer=page.viewer)


@router.get("/integrations/{integration_id}/remove")
async def confirm_removal(
    request: Request, integration_id: uuid.UUID, page: SignedInPage, session: PageSession
) -> Response:
    """Ask before removing, naming the workflows that would stop working."""
    integration = await integrations_service.get_integration(session, integration_id)
    uses = await integrations_service.workflows_using(session, integration_id)
    context = {"integration": integration, "uses": uses}
    return render(request, "integrations/remove.html", context, viewer=page.viewer)


@router.post("/integrations/{integration_id}/remove")
async def remove(
    integration_id: uuid.UUID, page: SignedInPage, session: PageSession, meta: RequestMeta
) -> Response:
    integration = await integrations_service.get_integration(session, integration_id)
    await integrations_service.delete_integration(session, page.principal.user_id, integration_id, meta=meta)
    return _back_to(f"/integrations?removed={integration.service_name}")


def _back_to(location: str) -> Response:
    return RedirectResponse(location, status_code=303)
