"""Step definitions the engine tests build workflows from."""

from __future__ import annotations

from typing import Any


def set_fields(fields: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "step_type": "action",
        "service_name": "core",
        "action_name": "set_fields",
        "configuration": {"fields": fields},
    } | extra


def format_text(text: str, operation: str = "upper", **extra: Any) -> dict[str, Any]:
    return {
        "step_type": "action",
        "service_name": "core",
        "action_name": "format_text",
        "configuration": {"operation": operation, "text": text},
    } | extra


def http_post(url: str, body: Any = None, **extra: Any) -> dict[str, Any]:
    return {
        "step_type": "action",
        "service_name": "core",
        "action_name": "http_request",
        "configuration": {"method": "POST", "url": url, "json_body": body or {}, "timeout_seconds": 5},
    } | extra


def only_if(rules: dict[str, Any]) -> dict[str, Any]:
    return {"step_type": "condition", "service_name": "core", "action_name": "filter", "configuration": rules}


def delay(**how_long: Any) -> dict[str, Any]:
    return {"step_type": "delay", "service_name": "core", "action_name": "delay", "configuration": how_long}
