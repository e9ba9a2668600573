"""The generic HTTP request step: call any web API. The URL is the user's, so the call is guarded."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import httpx
from pydantic import BaseModel, Field, field_validator, model_validator

from autofy.connectors.http_credentials import SERVICE_NAME as HTTP_CREDENTIALS
from autofy.connectors.http_credentials import authenticate, covers
from autofy.connectors.sdk import (
    Action,
    ConnectorContext,
    PermanentError,
    StrictModel,
    TransientError,
    retry_after_seconds,
)

MAX_TIMEOUT_SECONDS = 120.0
ERROR_EXCERPT_CHARS = 300


class HttpRequestInput(StrictModel):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] = Field(
        default="GET", description="The HTTP method."
    )
    url: str = Field(description="The full URL, starting with https:// or http://.")
    headers: dict[str, str] = Field(default_factory=dict, description="Request headers.")
    query: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="Query string parameters added to the URL."
    )
    json_body: Any = Field(default=None, description="A JSON body (object, list or value).")
    form_body: dict[str, str] | None = Field(
        default=None, description="A form body (application/x-www-form-urlencoded)."
    )
    integration_id: str | None = Field(
        default=None,
        description="The id of one of your HTTP credentials integrations (service `http`): its bearer "
        "token, basic auth or API key is added to the request, which must go to a URL under the "
        "integration's api_base. Secrets are never written in the step itself.",
    )
    timeout_seconds: float = Field(
        default=30.0, gt=0, le=MAX_TIMEOUT_SECONDS, description="How long to wait for the answer."
    )
    follow_redirects: bool = Field(default=True, description="Follow 3xx redirects (at most 5).")
    fail_on_error_status: bool = Field(
        default=True,
        description="Fail the step on a 4xx or 5xx answer (5xx and 429 are retried). When false, "
        "the answer is returned as output with ok = false.",
    )

    @field_validator("url")
    @classmethod
    def _web_url(cls, url: str) -> str:
        if not url.lower().startswith(("http://", "https://")):
            raise ValueError("the URL must start with http:// or https://")
        return url

    @model_validator(mode="after")
    def _one_body(self) -> HttpRequestInput:
        if self.json_body is not None and self.form_body is not None:
            raise ValueError("give either json_body or form_body, not both")
        return self


class HttpRequestOutput(BaseModel):
    status_code: int = Field(description="The HTTP status code.")
    headers: dict[str, str] = Field(description="Response headers (names in lower case).")
    body: Any = Field(description="The body: parsed JSON when the answer is JSON, otherwise text.")
    ok: bool = Field(description="True for a 2xx or 3xx status.")


def build_request(
    params: HttpRequestInput, credentials: Mapping[str, Any], api_base: str | None
) -> httpx.Request:
    """The request the step sends; with an integration, its credentials applied, only under its api_base."""
    headers = dict(params.headers)
    try:
        # Merged, not replaced: httpx's `params=` would drop a query written in the URL itself.
        url = httpx.URL(params.url).copy_merge_params({k: _query_value(v) for k, v in params.query.items()})
        request = httpx.Request(
            params.method,
            url,
            headers=headers,
            json=params.json_body,
            data=params.form_body,
        )
    except (httpx.InvalidURL, UnicodeError) as error:
        raise PermanentError(f"invalid URL: {error}") from None
    if params.integration_id is None:
        return request
    if not credentials:
        raise PermanentError(
            f"the HTTP credentials integration {params.integration_id} does not exist (or is not "
            "yours): choose another one for this step"
        )
    if api_base and not covers(api_base, request.url):
        raise PermanentError(
            f"the HTTP credentials integration is for {api_base}; it is not sent to {request.url.host}"
        )
    return authenticate(request, credentials)


def _query_value(value: str | int | float | bool) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def read_body(response: httpx.Response) -> Any:
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json" or content_type.endswith("+json"):
        try:
            return response.json()
        except ValueError:
            pass  # a server that mislabels its body: hand over the text
    return response.text


class HttpRequest(Action[HttpRequestInput, HttpRequestOutput]):
    name = "http_request"
    display_name = "HTTP request"
    description = (
        "Call any web API or URL: choose the method, headers, query parameters, a JSON or form body "
        "and authentication; the step outputs the status code, headers and body (parsed when JSON). "
        "Only public internet addresses can be reached."
    )
    input_model = HttpRequestInput
    output_model = HttpRequestOutput
    integration_service = HTTP_CREDENTIALS

    async def run(self, ctx: ConnectorContext, params: HttpRequestInput) -> HttpRequestOutput:
        request = build_request(params, ctx.credentials, ctx.configuration.get("api_base"))
        request.extensions["timeout"] = httpx.Timeout(params.timeout_seconds).as_dict()
        host = request.url.host
        # A redirect could carry a header or query credential to another server: not followed.
        follow = params.follow_redirects and params.integration_id is None
        try:
            response = await ctx.http.send(request, follow_redirects=follow)
        except httpx.TimeoutException:
            raise TransientError(f"{host} did not answer within {params.timeout_seconds:g} s") from None
        except httpx.TooManyRedirects:
            raise PermanentError(f"{host} redirected too many times") from None
        except httpx.HTTPError as error:
            raise TransientError(f"could not reach {host}: {type(error).__name__}") from None
        output = HttpRequestOutput(
            status_code=response.status_code,
            headers={k.lower(): v for k, v in response.headers.items()},
            body=read_body(response),
            ok=response.status_code < 400,
        )
        if output.ok or not params.fail_on_error_status:
            return output
        message = f"{host} answered {response.status_code}: {response.text[:ERROR_EXCERPT_CHARS]}"
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientError(
                message, status_code=response.status_code, retry_after=retry_after_seconds(response)
            )
        raise PermanentError(message, status_code=response.status_code)
