"""What a secret looks like: the one definition used to refuse, redact and mask credentials.

Two signals, used everywhere a credential could slip into plain data (step configuration, an
export, an execution's history, a chat message sent to a model):
- a key that names a secret (`SECRET_KEY_PATTERN`): `password`, `access_token`, `X-API-Key`,
  `Authorization`, `client_secret`, … as a whole part of the key, so `max_tokens`, `secretary` or
  `tokens_used` are not secrets;
- a value in a known credential format (`find_credentials`): OpenAI and Anthropic keys, Telegram
  bot tokens, Google and GitHub tokens, Slack tokens, JWTs, AWS access keys, PEM private keys.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SECRET_KEY_PATTERN = re.compile(
    r"(?:^|[_\-\s.])(?:passwords?|passphrase|passwd|secrets?|token|api[_\-]?key|authorization|cookies?"
    r"|credentials?|private[_\-]?key)(?:$|[_\-\s.])",
    re.IGNORECASE,
)
# Query fields carry keys under shorter names too (`?key=`, `?sig=`, Google's and S3's habits).
SECRET_QUERY_NAME = re.compile(r"key|auth|sig|signature|code|pass|pwd", re.IGNORECASE)

# Known credential formats; each is long and specific enough not to match ordinary text.
CREDENTIAL_FORMATS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("an Anthropic API key", re.compile(r"\bsk-ant-[A-Za-z0-9_\-]{20,}")),
    ("an OpenAI API key", re.compile(r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}")),
    ("a Telegram bot token", re.compile(r"(?<![0-9])\d{6,12}:[A-Za-z0-9_\-]{35}(?![A-Za-z0-9_\-])")),
    ("a Google API key", re.compile(r"\bAIza[0-9A-Za-z_\-]{35}\b")),
    ("a Google OAuth token", re.compile(r"\bya29\.[0-9A-Za-z_\-]{20,}")),
    ("a GitHub token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})")),
    ("a Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9\-]{10,}")),
    ("a JSON Web Token", re.compile(r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}")),
    ("an AWS access key", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("a private key", re.compile(r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----")),
)
# All formats at once: most text holds none, and one pass over it says so.
_ANY_CREDENTIAL = re.compile("|".join(f"(?:{pattern.pattern})" for _, pattern in CREDENTIAL_FORMATS))
PLACEHOLDER = "[secret removed]"


@dataclass(frozen=True)
class CredentialFound:
    kind: str
    start: int
    end: int


def is_secret_key(key: object) -> bool:
    return isinstance(key, str) and SECRET_KEY_PATTERN.search(key) is not None


def is_secret_query_name(name: object) -> bool:
    return is_secret_key(name) or (isinstance(name, str) and SECRET_QUERY_NAME.fullmatch(name) is not None)


def find_credentials(text: str) -> list[CredentialFound]:
    """Every credential-looking span of `text`, in order, without overlaps."""
    found: list[CredentialFound] = []
    if _ANY_CREDENTIAL.search(text) is None:
        return found
    for kind, pattern in CREDENTIAL_FORMATS:
        for match in pattern.finditer(text):
            if not any(match.start() < other.end and other.start < match.end() for other in found):
                found.append(CredentialFound(kind, match.start(), match.end()))
    return sorted(found, key=lambda item: item.start)


def mask_credentials(text: str) -> tuple[str, list[str]]:
    """`text` with every credential-looking span replaced by `PLACEHOLDER`, and the kinds found."""
    found = find_credentials(text)
    if not found:
        return text, []
    parts: list[str] = []
    position = 0
    for item in found:
        parts += [text[position : item.start], PLACEHOLDER]
        position = item.end
    parts.append(text[position:])
    return "".join(parts), list(dict.fromkeys(item.kind for item in found))


def where_credentials_go(kind: str) -> str:
    """Where a credential of `kind` belongs instead: the integration that holds such a secret."""
    for service in ("OpenAI", "Anthropic", "Telegram"):
        if service in kind:
            return f"connect {service} under Integrations, where the key is kept encrypted"
    if kind == "a Google API key":
        return "connect Gemini under Integrations, where the key is kept encrypted"
    return (
        "add it under Integrations as HTTP credentials (service `http`), kept encrypted, and name "
        "that integration in the HTTP request step"
    )
