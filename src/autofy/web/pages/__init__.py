"""Every page module's router, behind the CSRF check (which lets GET, HEAD and OPTIONS through)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from autofy.web.pages import (
    account,
    assistant,
    audit,
    docs,
    home,
    integrations,
    keys,
    notifications,
    runs,
    settings,
    status,
    templates,
    usage,
    workflow_list,
    workflows,
)
from autofy.web.security import check_csrf

ROUTER = APIRouter(include_in_schema=False, dependencies=[Depends(check_csrf)])
for page_module in (
    account,
    home,
    workflow_list,
    workflows,
    templates,
    runs,
    integrations,
    assistant,
    notifications,
    status,
    docs,
    settings,
    keys,
    audit,
    usage,
):
    ROUTER.include_router(page_module.router)
