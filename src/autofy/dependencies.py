"""FastAPI dependencies shared by every domain router."""

from __future__ import annotations

from fastapi import Request

from autofy.config import Settings
from autofy.db.engine import Database


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings
