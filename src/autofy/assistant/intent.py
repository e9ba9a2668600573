"""A first guess at what a chat is for, from its first message (the model may correct it later)."""

from __future__ import annotations

import re

_TROUBLESHOOTING = re.compile(
    r"\b(fail(ed|s|ing|ure)?|error|broken|crash\w*|not work\w*|doesn'?t work|didn'?t (run|work|send)"
    r"|stopped|why (did|does|is|isn'?t)|debug|wrong)\b",
    re.IGNORECASE,
)
_WORKFLOW_CREATION = re.compile(
    r"\b(when(ever)?|every|each|automat\w*|workflow|create|build|set up|send|save|forward|notify"
    r"|summari[sz]e|schedule\w*|daily|weekly|hourly)\b",
    re.IGNORECASE,
)


def classify_intent(text: str) -> str:
    """`troubleshooting`, `workflow_creation` or `help`, by the words of `text`."""
    if _TROUBLESHOOTING.search(text):
        return "troubleshooting"
    if _WORKFLOW_CREATION.search(text):
        return "workflow_creation"
    return "help"
