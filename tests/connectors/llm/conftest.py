"""Each LLM test runs once per service, through the real LangChain clients over HTTP to a fake
server: OpenAI, Anthropic and Gemini against their own fakes, OpenRouter against the OpenAI fake
(it speaks the same API). Needs the fixtures of `tests.fakes.llm_fixtures`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from autofy.connectors.anthropic import connector as anthropic_connector
from autofy.connectors.gemini import connector as gemini_connector
from autofy.connectors.llm.providers import provider_named
from autofy.connectors.openai import connector as openai_connector
from autofy.connectors.openrouter import connector as openrouter_connector
from autofy.connectors.outbound import OutboundPolicy
from autofy.connectors.sdk import Action, Connector, ConnectorContext
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.gemini import FakeGemini
from tests.fakes.openai import FakeOpenAI

LLMFake = FakeOpenAI | FakeAnthropic | FakeGemini
CONNECTORS: dict[str, Connector] = {
    connector.service_name: connector
    for connector in (openai_connector, anthropic_connector, gemini_connector, openrouter_connector)
}
SERVICES = list(CONNECTORS)
# The fakes listen on 127.0.0.1: a server that allows the private network, as in development.
FAKE_SERVER_POLICY = OutboundPolicy(allow_private_network=True)


@dataclass
class SentPrompt:
    """The last chat request the fake received, read the same way whatever the provider."""

    model: str
    system: str
    user: str
    temperature: float | None
    max_tokens: int | None
    tools: list[str]
    forced_tool: str | None
    raw: bytes


@dataclass
class LLMService:
    service_name: str
    fake: LLMFake
    http: httpx.AsyncClient

    @property
    def connector(self) -> Connector:
        return CONNECTORS[self.service_name]

    @property
    def default_model(self) -> str:
        return provider_named(self.service_name).default_model

    def context(self, *, api_key: str | None = None, **configuration: Any) -> ConnectorContext:
        return ConnectorContext(
            service_name=self.service_name,
            credentials={"api_key": self.fake.api_key if api_key is None else api_key},
            configuration={"api_base": self.fake.api_base, **configuration},
            http=self.http,
            outbound_policy=FAKE_SERVER_POLICY,
        )

    def action(self, name: str) -> Action[Any, Any]:
        return next(action for action in self.connector.actions if action.name == name)

    async def run(self, action_name: str, ctx: ConnectorContext | None = None, **params: Any) -> BaseModel:
        action = self.action(action_name)
        output: BaseModel = await action.run(ctx or self.context(), action.input_model.model_validate(params))
        return output

    def chat_requests(self) -> list[bytes]:
        paths = ("/chat/completions", "/v1/messages", "enerateContent")
        return [request.body for request in self.fake.requests if request.path.endswith(paths)]

    def sent(self) -> SentPrompt:
        if isinstance(self.fake, FakeAnthropic):
            return _anthropic_prompt(self.fake)
        if isinstance(self.fake, FakeGemini):
            return _gemini_prompt(self.fake)
        return _openai_prompt(self.fake)


def _texts(content: Any) -> str:
    if isinstance(content, str):
        return content
    return " ".join(str(part.get("text", "")) for part in content or [] if isinstance(part, dict))


def _openai_prompt(fake: FakeOpenAI) -> SentPrompt:
    request = fake.requests_to("/chat/completions")[-1]
    body = request.json()
    messages = body["messages"]
    choice = body.get("tool_choice")
    return SentPrompt(
        model=body["model"],
        system=" ".join(_texts(m["content"]) for m in messages if m["role"] in ("system", "developer")),
        user=" ".join(_texts(m["content"]) for m in messages if m["role"] == "user"),
        temperature=body.get("temperature"),
        max_tokens=body.get("max_completion_tokens") or body.get("max_tokens"),
        tools=[tool["function"]["name"] for tool in body.get("tools", [])],
        forced_tool=choice["function"]["name"] if isinstance(choice, dict) else None,
        raw=request.body,
    )


def _anthropic_prompt(fake: FakeAnthropic) -> SentPrompt:
    request = fake.requests_to("/v1/messages")[-1]
    body = request.json()
    choice = body.get("tool_choice") or {}
    return SentPrompt(
        model=body["model"],
        system=_texts(body.get("system", "")),
        user=" ".join(_texts(m["content"]) for m in body["messages"] if m["role"] == "user"),
        temperature=body.get("temperature"),
        max_tokens=body.get("max_tokens"),
        tools=[tool["name"] for tool in body.get("tools", [])],
        forced_tool=choice.get("name") if choice.get("type") == "tool" else None,
        raw=request.body,
    )


def _gemini_prompt(fake: FakeGemini) -> SentPrompt:
    request = next(r for r in reversed(fake.requests) if r.path.endswith("enerateContent"))
    body = request.json()
    config = body.get("generationConfig", {})
    calling = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
    allowed = calling.get("allowedFunctionNames") or []
    return SentPrompt(
        model=request.path.rsplit("/", 1)[-1].split(":")[0],
        system=_texts((body.get("systemInstruction") or {}).get("parts")),
        user=" ".join(_texts(c["parts"]) for c in body["contents"] if c.get("role", "user") == "user"),
        temperature=config.get("temperature"),
        max_tokens=config.get("maxOutputTokens"),
        tools=[d["name"] for tool in body.get("tools", []) for d in tool.get("functionDeclarations", [])],
        forced_tool=allowed[0] if calling.get("mode") == "ANY" and len(allowed) == 1 else None,
        raw=request.body,
    )


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture(params=SERVICES)
def llm(request: pytest.FixtureRequest, http: httpx.AsyncClient) -> LLMService:
    flavour = provider_named(request.param).flavour
    fake = request.getfixturevalue(f"fake_{flavour}")
    return LLMService(request.param, fake, http)
