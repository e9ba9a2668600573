"""The LLM client cache: one client per slot and version, a bounded size, and no client closed
while a task still uses it or served after its credentials changed."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from autofy.connectors.llm.clients import ModelClients, fingerprint


class Client:
    """Stands in for an SDK client: numbered in build order, closed at most once."""

    built = itertools.count(1)

    def __init__(self) -> None:
        self.number = next(self.built)
        self.closes = 0


async def close(client: Client) -> None:
    await asyncio.sleep(0)  # closing a pool awaits: another task may run meanwhile
    client.closes += 1


async def test_a_slot_is_built_once_and_reused_while_its_version_holds() -> None:
    clients = ModelClients()
    async with clients.lease("chat", "v1", Client, close) as first:
        pass
    async with clients.lease("chat", "v1", Client, close) as second:
        pass

    assert second is first
    assert first.closes == 0
    await clients.aclose()
    assert first.closes == 1


async def test_a_new_version_replaces_the_client_and_closes_the_old_one() -> None:
    clients = ModelClients()
    async with clients.lease("chat", fingerprint({"api_key": "old"}), Client, close) as old:
        pass
    async with clients.lease("chat", fingerprint({"api_key": "new"}), Client, close) as new:
        assert new is not old
        assert old.closes == 1
    async with clients.lease("chat", fingerprint({"api_key": "new"}), Client, close) as again:
        assert again is new
    assert len(clients) == 1
    await clients.aclose()


async def test_a_client_replaced_while_in_use_is_closed_only_when_its_user_is_done() -> None:
    clients = ModelClients()
    async with clients.lease("chat", "v1", Client, close) as in_use:
        async with clients.lease("chat", "v2", Client, close) as replacement:
            assert replacement is not in_use
        assert in_use.closes == 0  # the first task is still in its request
    assert in_use.closes == 1
    await clients.aclose()
    assert replacement.closes == 1


async def test_the_least_recently_used_client_goes_when_the_cache_is_full() -> None:
    clients = ModelClients(max_size=2)
    leased: dict[str, Client] = {}
    for slot in ("a", "b", "a", "c"):  # "a" used again, so "b" is the least recent
        async with clients.lease(slot, "v", Client, close) as client:
            leased[slot] = client

    assert len(clients) == 2
    assert [leased[slot].closes for slot in ("a", "b", "c")] == [0, 1, 0]
    await clients.aclose()
    assert [leased[slot].closes for slot in ("a", "b", "c")] == [1, 1, 1]


async def test_concurrent_tasks_share_one_client_and_shutdown_waits_for_them() -> None:
    clients = ModelClients()
    release, all_in = asyncio.Event(), asyncio.Event()
    seen: list[Client] = []

    async def turn() -> None:
        async with clients.lease("chat", "v", Client, close) as client:
            seen.append(client)
            if len(seen) == 20:
                all_in.set()
            await release.wait()

    tasks = [asyncio.create_task(turn()) for _ in range(20)]
    await all_in.wait()
    await clients.aclose()
    assert seen[0].closes == 0  # twenty requests in flight keep it open

    release.set()
    await asyncio.gather(*tasks)
    assert {id(client) for client in seen} == {id(seen[0])}
    assert seen[0].closes == 1
    with pytest.raises(RuntimeError, match="closed"):
        async with clients.lease("chat", "v", Client, close):
            pass


def test_fingerprints_tell_credentials_apart_without_containing_them() -> None:
    key = "sk-secret-value-123"
    assert fingerprint({"api_key": key}) == fingerprint({"api_key": key})
    assert fingerprint({"api_key": key}) != fingerprint({"api_key": key + "4"})
    assert key not in fingerprint({"api_key": key})
