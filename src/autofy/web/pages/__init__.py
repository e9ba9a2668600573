"""Every page module's router, behind the CSRF check (which lets GET, HEAD and OPTIONS through)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from autofy.web.pages import (
    account,
    docs,
    home,
    integrations,
    notifications,
    runs,
    status,
    templates,
    workflows,
)
from autofy.web.security import check_csrf

ROUTER = APIRouter(include_in_schema=False, dependencies=[Depends(check_csrf)])
for page_module in (account, home, workflows, templates, runs, integrations, notifications, status, docs):
    ROUTER.include_router(page_module.router)
