"""HTTP credentials: a secret for the generic HTTP request step, kept encrypted like every other.

One integration holds one way to authenticate (a bearer token, basic auth, or a key sent in a
header or a query field) for one API, named by the integration's `configuration.api_base`. An
HTTP request step names the integration by `integration_id`; the step sends the credentials only
to URLs under that base, so a workflow edit cannot send them elsewhere. A user may keep several
(one per API).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import httpx

from autofy.connectors.sdk import (
    AuthSpec,
    ConnectionTestResult,
    Connector,
    ConnectorContext,
    CredentialField,
    PermanentError,
    send,
)

SERVICE_NAME = "http"
SCHEMES: Mapping[str, tuple[str, ...]] = {
    "bearer": ("token",),
    "basic": ("username", "password"),
    "header": ("name", "value"),
    "query": ("name", "value"),
}


def credential_problems(credentials: Mapping[str, str]) -> list[tuple[str, str]]:
    """What the chosen scheme still needs, as (field, message); the fields of other schemes are refused."""
    scheme = credentials.get("scheme", "")
    if scheme not in SCHEMES:
        return [("scheme", f"must be one of {', '.join(SCHEMES)}")]
    needed = SCHEMES[scheme]
    problems = [(name, f"required for the {scheme} scheme") for name in needed if not credentials.get(name)]
    problems += [
        (name, f"not used by the {scheme} scheme (it takes {', '.join(needed)})")
        for name in sorted(set(credentials) - {"scheme", *needed})
    ]
    return problems


def authenticate(request: httpx.Request, credentials: Mapping[str, Any]) -> httpx.Request:
    """`request` with the credentials applied as their scheme says."""
    scheme = credentials.get("scheme")
    if scheme == "bearer":
        request.headers["Authorization"] = f"Bearer {credentials['token']}"
    elif scheme == "basic":
        pair = f"{credentials['username']}:{credentials['password']}".encode()
        request.headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
    elif scheme == "header":
        request.headers[str(credentials["name"])] = str(credentials["value"])
    elif scheme == "query":
        request.url = request.url.copy_merge_params({str(credentials["name"]): str(credentials["value"])})
    else:
        raise PermanentError(
            "the HTTP credentials integration has no valid scheme: edit it under Integrations"
        )
    return request


def covers(api_base: str, url: httpx.URL) -> bool:
    """Whether `url` lies under the integration's base URL (same scheme, host, port and path prefix)."""
    base = httpx.URL(api_base)
    prefix = base.path if base.path.endswith("/") else base.path + "/"
    return (url.scheme, url.host, url.port) == (base.scheme, base.host, base.port) and (
        url.path == base.path or url.path.startswith(prefix) or base.path in ("", "/")
    )


class HttpCredentialsConnector(Connector):
    service_name = SERVICE_NAME
    display_name = "HTTP credentials"
    description = (
        "A secret for the HTTP request step: a bearer token, basic auth, or an API key in a header or "
        "a query field, kept encrypted and sent only to the API it is for."
    )
    auth = AuthSpec(
        kind="api_key",
        fields=[
            CredentialField(
                name="scheme",
                label="Scheme",
                description="How the secret is sent: bearer, basic, header or query.",
                secret=False,
            ),
            CredentialField(name="token", label="Token", description="bearer: the token.", required=False),
            CredentialField(
                name="username",
                label="User name",
                description="basic: the user name.",
                secret=False,
                required=False,
            ),
            CredentialField(
                name="password", label="Password", description="basic: the password.", required=False
            ),
            CredentialField(
                name="name",
                label="Header or query field",
                description="header or query: its name, e.g. X-API-Key or api_key.",
                secret=False,
                required=False,
            ),
            CredentialField(
                name="value", label="Key", description="header or query: the secret value.", required=False
            ),
        ],
        how_to_obtain=(
            "Take the token or key from the API's own settings page. Set configuration.api_base to the "
            "API's base URL (e.g. https://api.example.com/v1): the secret is sent only to URLs under it, "
            "and the connection test calls it."
        ),
    )

    def credential_problems(self, credentials: Mapping[str, str]) -> list[tuple[str, str]]:
        return credential_problems(credentials)

    async def test(self, ctx: ConnectorContext) -> ConnectionTestResult:
        api_base = ctx.configuration.get("api_base")
        if not api_base:
            return ConnectionTestResult(
                ok=False, message="Set configuration.api_base to the API's base URL to test against."
            )
        request = authenticate(httpx.Request("GET", str(api_base)), ctx.credentials)
        await send(ctx, request, provider=str(httpx.URL(str(api_base)).host), error_message=lambda _: None)
        return ConnectionTestResult(ok=True, message=f"{api_base} accepted the credentials.")


connector = HttpCredentialsConnector()


def credentials_in_step(configuration: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str] | None]:
    """An HTTP request step's configuration of the old shape, split: the configuration without its
    credentials, and the first credentials it held (its `auth` block, else a secret-named header
    or query field written out in full), as an `http` integration's credentials."""
    # Imported here: the validator builds on the catalog, which lists this connector.
    from autofy.connectors.validation import contains_template
    from autofy.security.secrets import is_secret_key, is_secret_query_name

    remaining = dict(configuration)
    found: dict[str, str] | None = None
    auth = remaining.pop("auth", None)
    if isinstance(auth, Mapping):
        kind = auth.get("type")
        if kind == "bearer":
            found = {"scheme": "bearer", "token": str(auth.get("token", ""))}
        elif kind == "basic":
            found = {
                "scheme": "basic",
                "username": str(auth.get("username", "")),
                "password": str(auth.get("password", "")),
            }
        elif kind == "header":
            found = {
                "scheme": "header",
                "name": str(auth.get("name", "")),
                "value": str(auth.get("value", "")),
            }
    for field, is_secret, scheme in (
        ("headers", is_secret_key, "header"),
        ("query", is_secret_query_name, "query"),
    ):
        values = remaining.get(field)
        if found is not None or not isinstance(values, Mapping):
            continue
        for name, value in values.items():
            if is_secret(name) and isinstance(value, str) and value.strip() and not contains_template(value):
                bearer = value.strip()[7:].strip() if value.strip().lower().startswith("bearer ") else None
                found = (
                    {"scheme": "bearer", "token": bearer}
                    if bearer and field == "headers" and name.lower() == "authorization"
                    else {"scheme": scheme, "name": str(name), "value": value}
                )
                remaining[field] = {key: item for key, item in values.items() if key != name}
                break
    return remaining, found
