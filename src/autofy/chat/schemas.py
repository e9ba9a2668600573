"""Request and response models of the chat routes: sessions, messages, turns and search."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from autofy.pagination import OffsetPage
from autofy.workflows.schemas import WorkflowSummary

ChatIntent = Literal["workflow_creation", "help", "troubleshooting"]
ChatStatus = Literal["active", "completed", "abandoned"]
MessageRole = Literal["user", "assistant", "system"]

SessionName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
MessageText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChatSessionCreate(_Strict):
    session_name: SessionName | None = Field(
        default=None, description="Defaults to the beginning of the first message."
    )
    intent: ChatIntent | None = Field(
        default=None, description="Omitted: classified from the first message (the assistant may change it)."
    )


class ChatSessionUpdate(_Strict):
    """Rename a session, or close it (`completed` or `abandoned`); a closed session can be reopened."""

    session_name: SessionName | None = None
    status: ChatStatus | None = None


class ChatSession(BaseModel):
    id: uuid.UUID
    session_name: str | None
    intent: ChatIntent | None
    status: ChatStatus
    workflow_id: uuid.UUID | None = Field(description="The draft workflow the session created, if any.")
    created_at: datetime
    updated_at: datetime


class ChatSessionPage(OffsetPage[ChatSession]):
    pass


class ChatMessage(BaseModel):
    id: uuid.UUID
    session_id: uuid.UUID
    role: MessageRole
    content: str
    metadata: dict[str, Any] = Field(
        description=(
            "Assistant messages: provider, model, usage {input_tokens, output_tokens, total_tokens, "
            "credits}, latency_ms, tool_calls, and `error` when the provider failed."
        )
    )
    created_at: datetime


class MessageCreate(_Strict):
    content: MessageText


class MissingIntegration(BaseModel):
    service_name: str
    display_name: str
    how_to_connect: str = Field(description="Where to get the credential and what to paste.")


class TemplateSuggestion(BaseModel):
    id: uuid.UUID
    name: str
    description: str | None
    required_integrations: list[str]


class TurnError(BaseModel):
    code: Literal["provider_auth_failed", "provider_rate_limited", "provider_unavailable", "provider_failed"]
    message: str
    provider: str
    status_code: int | None = None


class ChatTurn(BaseModel):
    """What one message to the assistant produced: both messages, and the draft it may have saved."""

    session: ChatSession
    user_message: ChatMessage
    assistant_message: ChatMessage
    workflow: WorkflowSummary | None = Field(
        default=None, description="The draft workflow created in this turn (activate it after a test run)."
    )
    missing_integrations: list[MissingIntegration] = Field(default_factory=list)
    templates: list[TemplateSuggestion] = Field(
        default_factory=list, description="Matching templates (offered when no AI provider is connected)."
    )
    error: TurnError | None = Field(
        default=None, description="Set when the AI provider failed; the assistant message explains it."
    )


class ChatSearchHit(BaseModel):
    message: ChatMessage
    session_name: str | None
    score: float = Field(description="Reciprocal-rank-fusion score of the rankings that found it.")
    matched_by: list[Literal["text", "vector"]]


class ChatSearchResults(BaseModel):
    query: str
    items: list[ChatSearchHit]
    embedding_model: str | None = Field(
        description="The model whose vectors were compared; null when only full-text search ran."
    )
