"""FastAPI dependencies shared by every domain router."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request

from autofy.config import Settings
from autofy.connectors.llm.clients import ModelClients
from autofy.db.engine import Database
from autofy.pagination import MAX_OFFSET

# Every list's `offset` query parameter.
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description=f"Rows to skip, at most {MAX_OFFSET:,}.")]


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_model_clients(request: Request) -> ModelClients:
    """The API process's LLM clients, built once and reused across requests (app lifespan)."""
    clients: ModelClients = request.app.state.model_clients
    return clients


def get_reservations_database(request: Request) -> Database:
    """Where assistant turns commit their credit reservations (app lifespan)."""
    database: Database = request.app.state.reservations_database
    return database
