"""The shape every connector declares: auth, a connection test, actions and triggers.

A connector is data plus `run`: the catalog built from these declarations is what the API serves,
what validates workflow steps, what the engine runs and what the AI assistant reads. One action, one
place: an action is a subclass of `Action` with its name, a description a person and a model can both
act on, a Pydantic input model, an output model and `run`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    import uuid

    from autofy.connectors.llm.clients import ModelClients
    from autofy.connectors.outbound import OutboundPolicy

AuthKind = Literal["oauth2", "api_key", "bot_token", "none"]
StepKind = Literal["action", "condition", "delay"]

InputT = TypeVar("InputT", bound=BaseModel)
OutputT = TypeVar("OutputT", bound=BaseModel)
ConfigT = TypeVar("ConfigT", bound=BaseModel)


class StrictModel(BaseModel):
    """Base for inputs and outputs: unknown fields are errors, so typos surface at validation."""

    model_config = ConfigDict(extra="forbid")


# --- errors -------------------------------------------------------------------------------------


class ConnectorError(Exception):
    """A call to a service failed. `retryable` tells the engine whether trying again can help.

    The message is shown to the user as the step's error: it must say what went wrong in the
    provider's own words where there are some, and never contain a credential.
    """

    retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.retry_after = retry_after


class TransientError(ConnectorError):
    """Worth retrying: network failure, timeout, 5xx, 429 (with `retry_after` seconds if given)."""

    retryable = True


class PermanentError(ConnectorError):
    """Retrying cannot help: a 4xx, invalid input, a resource that does not exist."""


class AuthenticationError(PermanentError):
    """The credentials were refused; the integration needs the user's attention.

    `expired` marks a revoked or expired grant (status `expired`) rather than wrong credentials
    (status `error`).
    """

    def __init__(self, message: str, *, status_code: int | None = None, expired: bool = False):
        super().__init__(message, status_code=status_code)
        self.expired = expired


# --- declarations -------------------------------------------------------------------------------


class CredentialField(BaseModel):
    name: str
    label: str
    description: str
    secret: bool = True
    required: bool = True


class OAuth2Spec(BaseModel):
    authorize_url: str
    token_url: str
    scopes: list[str]


class AuthSpec(BaseModel):
    kind: AuthKind
    fields: list[CredentialField] = []
    oauth2: OAuth2Spec | None = None
    how_to_obtain: str = ""


SaveCredentials = Callable[[dict[str, Any]], Awaitable[None]]


async def discard_credentials(_: dict[str, Any]) -> None:
    return None


def strict_outbound_policy() -> OutboundPolicy:
    """The default policy: public addresses only, the default timeouts and size cap."""
    # Imported here: the outbound module builds on this one (PermanentError, MAX_RESPONSE_BYTES).
    from autofy.connectors.outbound import OutboundPolicy

    return OutboundPolicy()


@dataclass
class ConnectorContext:
    """What an action, trigger or test gets to talk to its service.

    `credentials` are decrypted only for the duration of the call and never logged or returned.
    `http` is a client prepared by the runtime (timeouts, outbound guard); `outbound_policy` is the
    policy it enforces, for the clients an action cannot route through `http` (the LLM providers'
    SDKs: `opened_chat_model` checks their `api_base` against it); `save_credentials` persists
    rotated tokens (a refresh token the provider replaced) in the same transaction that records the
    step, so a rotated token is never lost. `model_clients`, with the `integration_id` the
    credentials are from: the process's LLM clients, reused from call to call (None: a client is
    built for the call and closed after it).
    """

    service_name: str
    credentials: Mapping[str, Any]
    configuration: Mapping[str, Any]
    http: httpx.AsyncClient
    save_credentials: SaveCredentials = discard_credentials
    outbound_policy: OutboundPolicy = field(default_factory=strict_outbound_policy)
    extras: dict[str, Any] = field(default_factory=dict)
    model_clients: ModelClients | None = None
    integration_id: uuid.UUID | None = None

    def api_base(self, default: str) -> str:
        """The service's base URL: the integration's `configuration.api_base`, else the default."""
        configured = self.configuration.get("api_base")
        return str(configured).rstrip("/") if configured else default.rstrip("/")


class Action(Generic[InputT, OutputT]):
    """One thing a workflow step can do. Subclasses set the class attributes and implement `run`."""

    name: ClassVar[str]
    display_name: ClassVar[str]
    description: ClassVar[str]
    input_model: type[InputT]
    output_model: type[OutputT]
    step_type: ClassVar[StepKind] = "action"
    # Credits charged per successful run; LLM actions add their token-based charge on top.
    credits: ClassVar[int] = 1
    # The most that token-based charge may add to one run of the action: a run reserves
    # `credits + max_usage_credits` per action step before it starts, and is charged at most that.
    max_usage_credits: ClassVar[int] = 0
    # The service of the integration the step names in its `integration_id` field, for actions
    # whose credentials are chosen per step (the HTTP request step's HTTP credentials).
    integration_service: ClassVar[str | None] = None

    async def run(self, ctx: ConnectorContext, params: InputT) -> OutputT:
        raise NotImplementedError


@dataclass
class PollResult:
    """New items since `cursor`, oldest first, and the cursor to store for the next poll."""

    items: list[dict[str, Any]]
    cursor: dict[str, Any]


class PollingTrigger(Generic[ConfigT, OutputT]):
    """A trigger that checks a service for new items (new email, new message).

    `start` returns the cursor at activation, so only items that arrive later count; `poll` returns
    what arrived since, each item shaped like `output_model`, and never the same item twice for a
    stored cursor.
    """

    name: ClassVar[str]
    display_name: ClassVar[str]
    description: ClassVar[str]
    config_model: type[ConfigT]
    output_model: type[OutputT]

    async def start(self, ctx: ConnectorContext, config: ConfigT) -> dict[str, Any]:
        raise NotImplementedError

    async def poll(self, ctx: ConnectorContext, config: ConfigT, cursor: Mapping[str, Any]) -> PollResult:
        raise NotImplementedError


@dataclass
class ConnectionTestResult:
    ok: bool
    message: str
    account: str | None = None  # who the credentials belong to, e.g. the Gmail address


class Connector:
    """A service: its auth, connection test, actions and triggers."""

    service_name: ClassVar[str]
    display_name: ClassVar[str]
    description: ClassVar[str]
    auth: ClassVar[AuthSpec]
    default_api_base: ClassVar[str] = ""
    actions: ClassVar[Sequence[Action[Any, Any]]] = ()
    triggers: ClassVar[Sequence[PollingTrigger[Any, Any]]] = ()

    @property
    def requires_integration(self) -> bool:
        return self.auth.kind != "none"

    def credential_problems(self, credentials: Mapping[str, str]) -> list[tuple[str, str]]:
        """What is wrong with credentials beyond the declared fields, as (field, message): for
        connectors whose needed fields depend on another field's value."""
        return []

    async def test(self, ctx: ConnectorContext) -> ConnectionTestResult:
        """Make the service's cheapest identity call with the integration's credentials."""
        raise NotImplementedError


# --- responses ----------------------------------------------------------------------------------

MAX_RESPONSE_BYTES = 10 * 1024 * 1024
ErrorMessageReader = Callable[[httpx.Response], str | None]


def retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date; the engine's own backoff applies


async def send(
    ctx: ConnectorContext,
    request: httpx.Request,
    *,
    provider: str,
    error_message: ErrorMessageReader,
    max_bytes: int = MAX_RESPONSE_BYTES,
) -> httpx.Response:
    """Send a request and turn every failure into the connector error the engine understands.

    429 and 5xx are transient (honouring Retry-After), 401/403 are authentication failures, other
    4xx are permanent with the provider's own message (read by `error_message`); network errors and
    timeouts are transient. The body is read up to `max_bytes`.
    """
    try:
        response = await ctx.http.send(request, stream=True)
    except httpx.TimeoutException as error:
        raise TransientError(f"{provider} did not answer in time ({type(error).__name__})") from None
    except httpx.HTTPError as error:
        raise TransientError(f"could not reach {provider}: {type(error).__name__}") from None
    try:
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body.extend(chunk)
            if len(body) > max_bytes:
                raise PermanentError(f"{provider} answered with more than {max_bytes} bytes")
    except httpx.HTTPError as error:
        raise TransientError(f"{provider} broke off its answer ({type(error).__name__})") from None
    finally:
        await response.aclose()
    response = httpx.Response(
        response.status_code, headers=response.headers, content=bytes(body), request=request
    )
    status = response.status_code
    if status < 400:
        return response
    detail = _safe_message(error_message, response) or response.reason_phrase
    message = f"{provider} answered {status}: {detail}"
    if status == 429 or status >= 500:
        raise TransientError(message, status_code=status, retry_after=retry_after_seconds(response))
    if status in (401, 403):
        raise AuthenticationError(message, status_code=status)
    raise PermanentError(message, status_code=status)


def _safe_message(reader: ErrorMessageReader, response: httpx.Response) -> str | None:
    try:
        return reader(response)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None  # a malformed error body: fall back to the status line


def json_body(response: httpx.Response, *, provider: str) -> Any:
    """The response's JSON, or a transient error when the provider answered with something else."""
    try:
        return response.json()
    except ValueError:
        raise TransientError(f"{provider} answered with a malformed body (not JSON)") from None
