"""LLM clients built once and reused: a bounded cache owned by a process's event loop.

Building a LangChain chat model or embeddings client costs tens of milliseconds (the SDKs build
their own clients, TLS contexts included) and each opens its own connection pool, so a client per
assistant turn or per embedding job pays both every time. `ModelClients` keeps one client per
*slot* (what it is for: kind, integration, model, call settings) built for one *version* (the
credentials' fingerprint, the integration's configuration and the outbound policy):

- a lookup whose version differs from the cached one (the user replaced the key, moved the
  `api_base`) retires the old client and builds a new one: a client built with an old key is never
  served again;
- at most `max_size` slots, least recently used retired first;
- a retired client is closed once the last task using it is done (`lease` counts users), so a
  request in flight is never cut, and `aclose` (on shutdown) closes everything.

Lookups and inserts never await, so tasks on the one event loop that owns the cache cannot race;
connection pools belong to that loop, so each process part (the API, a worker) owns its own
cache. The clients still send through the outbound guard: the builders give each one the guarded
transport, exactly as an uncached client gets it.

This module imports no SDK: the builders live with the clients they build (`chat_models`,
`autofy.assistant.embeddings`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar, cast

logger = logging.getLogger(__name__)

ClientT = TypeVar("ClientT")
DEFAULT_MAX_CLIENTS = 256
# Keys of the fingerprints: random per process, so a fingerprint reveals nothing about a key.
_FINGERPRINT_KEY = secrets.token_bytes(32)


def fingerprint(*parts: Mapping[str, Any] | Hashable) -> str:
    """A keyed digest of `parts` (credentials, configuration): equal when they are equal."""
    text = json.dumps(parts, sort_keys=True, default=repr)
    return hmac.new(_FINGERPRINT_KEY, text.encode(), hashlib.sha256).hexdigest()


@dataclass
class _Entry:
    version: str
    client: Any
    close: Callable[[Any], Awaitable[None]]
    users: int = 0
    retired: bool = False


class ModelClients:
    """The LLM clients of one event loop, reused across turns, jobs and searches (module doc)."""

    def __init__(self, max_size: int = DEFAULT_MAX_CLIENTS) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        self.max_size = max_size
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        # Retired clients no task uses: closed by the next lease (or `aclose`), off the lookup.
        self._unused_retired: list[_Entry] = []
        self._closed = False

    def __len__(self) -> int:
        return len(self._entries)

    @asynccontextmanager
    async def lease(
        self,
        slot: Hashable,
        version: str,
        build: Callable[[], ClientT],
        close: Callable[[ClientT], Awaitable[None]],
    ) -> AsyncIterator[ClientT]:
        """The client of `slot` built for `version`, built by `build` when there is none (or an
        older version); it stays open at least until this block ends."""
        if self._closed:
            raise RuntimeError("these model clients are closed (the process is shutting down)")
        entry = self._current(slot, version, build, cast(Callable[[Any], Awaitable[None]], close))
        entry.users += 1
        try:
            await self._close_unused_retired()
            yield cast(ClientT, entry.client)
        finally:
            entry.users -= 1
            if entry.retired and entry.users == 0:
                await _close(entry)

    def _current(
        self,
        slot: Hashable,
        version: str,
        build: Callable[[], Any],
        close: Callable[[Any], Awaitable[None]],
    ) -> _Entry:
        # No await from here to the return: the tasks of this loop see the cache change atomically.
        entry = self._entries.get(slot)
        if entry is not None and entry.version == version:
            self._entries.move_to_end(slot)
            return entry
        if entry is not None:
            self._retire(self._entries.pop(slot))
        entry = _Entry(version, build(), close)
        self._entries[slot] = entry
        while len(self._entries) > self.max_size:
            self._retire(self._entries.popitem(last=False)[1])
        return entry

    def _retire(self, entry: _Entry) -> None:
        """Never hand `entry` out again; close it now if unused, else when its last user is done."""
        entry.retired = True
        if entry.users == 0:
            self._unused_retired.append(entry)

    async def _close_unused_retired(self) -> None:
        pending, self._unused_retired = self._unused_retired, []
        for entry in pending:
            await _close(entry)

    async def aclose(self) -> None:
        """Close every client (on shutdown, on the loop that used them); in-use ones on release."""
        self._closed = True
        while self._entries:
            self._retire(self._entries.popitem()[1])
        await self._close_unused_retired()


async def _close(entry: _Entry) -> None:
    try:
        await entry.close(entry.client)
    except Exception:  # a pool that fails to close must not fail the turn that retired it
        logger.warning("closing a retired model client failed", exc_info=True)
