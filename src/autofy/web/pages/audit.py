"""The audit log: the user's own entries, newest first, each told as a sentence, filterable."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from autofy.audit import service as audit_service
from autofy.audit.schemas import AuditLog
from autofy.pagination import MAX_OFFSET
from autofy.web.dependencies import PageSession, SignedInPage
from autofy.web.rendering import render

router = APIRouter()

PAGE_SIZE = 25

# Each action as a sentence; `{key}` takes that key of the entry's details (left out when absent).
SENTENCES: dict[str, str] = {
    "auth.sign_up": "Account created",
    "auth.sign_in": "Signed in",
    "auth.sign_in_failed": "Sign-in failed",
    "auth.sign_out": "Signed out",
    "auth.sign_out_everywhere": "Signed out everywhere ({sessions_ended} sessions ended)",
    "auth.password_change": "Password changed ({other_sessions_ended} other sessions ended)",
    "auth.refresh_token_reused": "A used refresh token came back; its session was signed out",
    "api_key.create": "API key {name} created",
    "api_key.revoke": "API key {name} revoked",
    "profile.update": "Profile updated",
    "preference.set": "Preference {key} set",
    "preference.delete": "Preference {key} deleted",
    "workflow.create": "Workflow {name} created",
    "workflow.update": "Workflow updated",
    "workflow.delete": "Workflow {name} deleted",
    "workflow.activate": "Workflow activated",
    "workflow.pause": "Workflow paused",
    "workflow.archive": "Workflow archived",
    "workflow.step_add": "Step added to a workflow",
    "workflow.step_update": "Workflow step changed",
    "workflow.step_delete": "Workflow step deleted",
    "workflow.steps_reorder": "Workflow steps reordered",
    "workflow.webhook_rotate": "Workflow webhook address replaced",
    "execution.start": "Run started by hand",
    "execution.cancel": "Run cancelled",
    "execution.rerun": "Run started again",
    "execution.resume": "Run resumed",
    "integration.create": "Integration {service_name} connected",
    "integration.update": "Integration {service_name} updated",
    "integration.delete": "Integration {service_name} disconnected",
    "integration.test": "Integration {service_name} tested",
    "integration.oauth_connect": "Integration {service_name} connected through its sign-in page",
    "chat_session.create": "Assistant conversation started",
    "chat_session.update": "Assistant conversation renamed",
    "chat_session.close": "Assistant conversation closed",
    "chat_session.message": "Message sent to the assistant",
}
# Sign-in failures say why; the reasons auth/service.py records.
_FAILURE_REASONS = {
    "invalid_credentials": "Sign-in failed: wrong email or password",
    "banned": "Sign-in refused: the account is suspended",
    "wrong_current_password": "Password change refused: wrong current password",
}
RESOURCES: tuple[tuple[str, str], ...] = (
    ("api_key", "API keys"),
    ("chat_session", "Assistant conversations"),
    ("execution", "Runs"),
    ("integration", "Integrations"),
    ("preference", "Preferences"),
    ("profile", "Profile"),
    ("session", "Sessions"),
    ("user", "Account"),
    ("workflow", "Workflows"),
)


class _Details(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


def describe(entry: AuditLog) -> str:
    """“API key ci revoked from 203.0.113.7”: what happened, and from where."""
    if entry.action == "auth.sign_in_failed":
        sentence = _FAILURE_REASONS.get(str(entry.details.get("reason")), SENTENCES[entry.action])
    else:
        template = SENTENCES.get(entry.action, entry.action.replace("_", " ").replace(".", ": ").capitalize())
        values = _Details(
            {key: value for key, value in entry.details.items() if isinstance(value, str | int)}
        )
        # A missing detail (an entry older than the key it names) leaves a gap: close it.
        sentence = " ".join(template.format_map(values).split())
    return f"{sentence} from {entry.ip_address}" if entry.ip_address else sentence


def action_label(action: str) -> str:
    """The action's sentence without the entry's particulars: “API key revoked”."""
    general = re.sub(r"\{\w+\}", "", re.sub(r"\s*\(.*?\)", "", SENTENCES[action]))
    return " ".join(general.split())


@dataclass(frozen=True)
class Entry:
    log: AuditLog
    sentence: str
    details_json: str


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _page_link(filters: dict[str, str], page: int) -> str:
    return "/audit?" + urlencode({key: value for key, value in filters.items() if value} | {"page": page})


@router.get("/audit")
async def audit_log(
    request: Request,
    page: SignedInPage,
    session: PageSession,
    action: str = "",
    resource: str = "",
    since: str = "",
    until: str = "",
    number: Annotated[int, Query(alias="page", ge=1, le=MAX_OFFSET // PAGE_SIZE)] = 1,
) -> Response:
    errors = {
        name: "Enter a date like 2026-12-31."
        for name, text in (("since", since), ("until", until))
        if text and _day(text) is None
    }
    since_day, until_day = _day(since), _day(until)
    logs = await audit_service.list_logs(
        session,
        action=action or None,
        resource_type=resource or None,
        since=datetime.combine(since_day, time.min, tzinfo=UTC) if since_day else None,
        # Until a day means through the end of it.
        until=datetime.combine(until_day + timedelta(days=1), time.min, tzinfo=UTC) if until_day else None,
        limit=PAGE_SIZE,
        offset=(number - 1) * PAGE_SIZE,
    )
    filters = {"action": action, "resource": resource, "since": since, "until": until}
    entries = [
        Entry(
            log=log,
            sentence=describe(log),
            details_json=json.dumps(log.details, indent=2, ensure_ascii=False, sort_keys=True),
        )
        for log in logs.items
    ]
    context = {
        "entries": entries,
        "logs": logs,
        "filters": filters,
        "filtered": any(filters.values()),
        "errors": errors,
        "actions": sorted(((name, action_label(name)) for name in SENTENCES), key=lambda option: option[1]),
        "resources": RESOURCES,
        "number": number,
        "newer": _page_link(filters, number - 1) if number > 1 else None,
        "older": _page_link(filters, number + 1) if logs.offset + len(logs.items) < logs.total else None,
    }
    return render(request, "audit/list.html", context, viewer=page.viewer, status_code=422 if errors else 200)
