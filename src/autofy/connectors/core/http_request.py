"""The generic HTTP request step: call any web API. The URL is the user's, so the call is guarded."""

from __future__ import annotations

import base64
from typing import Annotated, Any, Literal

import httpx
from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator

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


class BasicAuth(StrictModel):
    type: Literal["basic"] = Field(description="HTTP Basic authentication.")
    username: str = Field(description="The user name.")
    password: SecretStr = Field(description="The password.")


class BearerAuth(StrictModel):
    type: Literal["bearer"] = Field(description="An `Authorization: Bearer <token>` header.")
    token: SecretStr = Field(description="The token.")


class HeaderAuth(StrictModel):
    type: Literal["header"] = Field(description="A secret sent in a header of your choosing.")
    name: str = Field(description="The header name, e.g. X-API-Key.")
    value: SecretStr = Field(description="The header value.")


RequestAuth = Annotated[BasicAuth | BearerAuth | HeaderAuth, Field(discriminator="type")]


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
    auth: RequestAuth | None = Field(
        default=None, description="Authentication: basic, bearer, or a custom header."
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


def build_request(params: HttpRequestInput) -> httpx.Request:
    headers = dict(params.headers)
    match params.auth:
        case BasicAuth(username=username, password=password):
            pair = f"{username}:{password.get_secret_value()}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        case BearerAuth(token=token):
            headers["Authorization"] = f"Bearer {token.get_secret_value()}"
        case HeaderAuth(name=name, value=value):
            headers[name] = value.get_secret_value()
    try:
        # Merged, not replaced: httpx's `params=` would drop a query written in the URL itself.
        url = httpx.URL(params.url).copy_merge_params({k: _query_value(v) for k, v in params.query.items()})
        return httpx.Request(
            params.method,
            url,
            headers=headers,
            json=params.json_body,
            data=params.form_body,
        )
    except (httpx.InvalidURL, UnicodeError) as error:
        raise PermanentError(f"invalid URL: {error}") from None


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

    async def run(self, ctx: ConnectorContext, params: HttpRequestInput) -> HttpRequestOutput:
        request = build_request(params)
        request.extensions["timeout"] = httpx.Timeout(params.timeout_seconds).as_dict()
        host = request.url.host
        try:
            response = await ctx.http.send(request, follow_redirects=params.follow_redirects)
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
