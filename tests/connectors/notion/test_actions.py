from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from autofy.connectors.notion import connector, list_databases
from autofy.connectors.notion.actions.append_to_page import AppendToPage, AppendToPageInput
from autofy.connectors.notion.actions.create_page import CreatePage, CreatePageInput
from autofy.connectors.notion.actions.get_page import GetPage, GetPageInput
from autofy.connectors.notion.actions.query_database import QueryDatabase, QueryDatabaseInput
from autofy.connectors.notion.actions.update_page import UpdatePage, UpdatePageInput
from autofy.connectors.sdk import (
    Action,
    AuthenticationError,
    ConnectorContext,
    PermanentError,
    TransientError,
)
from tests.fakes.notion import FakeNotion

TASKS = {
    "Name": "title",
    "Status": "status",
    "Tags": "multi_select",
    "Due": "date",
    "Points": "number",
    "Done": "checkbox",
}


def tasks_database(fake: FakeNotion) -> str:
    return fake.add_database("Tasks", TASKS)


async def test_create_page_in_a_database_with_simple_properties(
    fake_notion: FakeNotion, notion_ctx: ConnectorContext
) -> None:
    database_id = tasks_database(fake_notion)

    created = await CreatePage().run(
        notion_ctx,
        CreatePageInput(
            parent_database_id=database_id.replace("-", ""),
            title="Write docs",
            properties={
                "Status": "Done",
                "Tags": ["docs", "connectors"],
                "Due": "2026-01-01",
                "Points": "3",
                "Done": True,
            },
            content="# Notes\n- first",
        ),
    )

    page = fake_notion.pages[created.id]
    assert created.url == page["url"]
    assert page["parent"] == {"type": "database_id", "database_id": database_id}
    props = page["properties"]
    assert props["Name"]["title"][0]["plain_text"] == "Write docs"
    assert props["Status"]["status"]["name"] == "Done"
    assert [tag["name"] for tag in props["Tags"]["multi_select"]] == ["docs", "connectors"]
    assert props["Due"]["date"]["start"] == "2026-01-01"
    assert props["Points"]["number"] == 3
    assert props["Done"]["checkbox"] is True
    assert [block["type"] for block in fake_notion.children[created.id]] == [
        "heading_1",
        "bulleted_list_item",
    ]
    assert all(r.headers["notion-version"] == "2022-06-28" for r in fake_notion.requests)


async def test_raw_notion_property_objects_pass_through(
    fake_notion: FakeNotion, notion_ctx: ConnectorContext
) -> None:
    database_id = tasks_database(fake_notion)

    created = await CreatePage().run(
        notion_ctx,
        CreatePageInput(
            parent_database_id=database_id, properties={"Status": {"status": {"name": "Blocked"}}}
        ),
    )

    sent = fake_notion.requests_to("/v1/pages")[0].json()
    assert sent["properties"]["Status"] == {"status": {"name": "Blocked"}}
    assert fake_notion.pages[created.id]["properties"]["Status"]["status"]["name"] == "Blocked"


async def test_create_page_under_a_page(fake_notion: FakeNotion, notion_ctx: ConnectorContext) -> None:
    parent_id = fake_notion.add_page("Meeting notes")

    created = await CreatePage().run(
        notion_ctx,
        CreatePageInput(
            parent_page_id=f"https://www.notion.so/acme/Meeting-notes-{parent_id.replace('-', '')}",
            title="Monday",
        ),
    )

    page = fake_notion.pages[created.id]
    assert page["parent"] == {"type": "page_id", "page_id": parent_id}
    assert page["properties"]["title"]["title"][0]["plain_text"] == "Monday"


async def test_long_content_is_sent_in_chunks_of_100_blocks(
    fake_notion: FakeNotion, notion_ctx: ConnectorContext
) -> None:
    parent_id = fake_notion.add_page("Log")
    content = "\n".join(f"- item {index}" for index in range(250)) + "\n\n" + "y" * 4100

    created = await CreatePage().run(
        notion_ctx, CreatePageInput(parent_page_id=parent_id, title="Long", content=content)
    )

    blocks = fake_notion.children[created.id]
    assert len(blocks) == 251
    assert [len(r.json()["children"]) for r in fake_notion.requests_to("/children")] == [100, 51]
    assert blocks[-1]["paragraph"]["rich_text"][2]["plain_text"] == "y" * 100


async def test_very_long_content_stays_within_notions_request_size(
    fake_notion: FakeNotion, notion_ctx: ConnectorContext
) -> None:
    parent_id = fake_notion.add_page("Archive")
    content = (
        ("z" * 1999 + " ") * 450 + "\n\n" + "\n\n".join(f"para {index} " + "w" * 1500 for index in range(300))
    )

    created = await CreatePage().run(
        notion_ctx, CreatePageInput(parent_page_id=parent_id, title="Big", content=content)
    )

    blocks = fake_notion.children[created.id]
    assert len(blocks) == 5 + 300  # 900,000 characters need five paragraphs of at most 100 x 2000
    assert (
        "".join(item["plain_text"] for block in blocks[:5] for item in block["paragraph"]["rich_text"])
        == content.split("\n\n")[0].rstrip()
    )
    assert all(len(r.body) <= 500_000 for r in fake_notion.requests)


async def test_unknown_property_names_the_ones_that_exist(
    fake_notion: FakeNotion, notion_ctx: ConnectorContext
) -> None:
    database_id = tasks_database(fake_notion)

    with pytest.raises(PermanentError, match=r"no property 'State'.*Status"):
        await CreatePage().run(
            notion_ctx, CreatePageInput(parent_database_id=database_id, properties={"State": "x"})
        )

    assert fake_notion.requests_to("/v1/pages") == []


async def test_property_that_is_not_a_number_is_refused(
    fake_notion: FakeNotion, notion_ctx: ConnectorContext
) -> None:
    database_id = tasks_database(fake_notion)

    with pytest.raises(PermanentError, match="'Points' needs a number"):
        await CreatePage().run(
            notion_ctx, CreatePageInput(parent_database_id=database_id, properties={"Points": "many"})
        )


async def test_create_page_needs_exactly_one_parent() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        CreatePageInput(title="orphan")


async def test_database_not_shared_with_the_integration_says_so(
    fake_notion: FakeNotion, notion_ctx: ConnectorContext
) -> None:
    hidden = fake_notion.add_database("Secret", {"Name": "title"}, shared=False)

    with pytest.raises(PermanentError, match="shared with your integration") as raised:
        await CreatePage().run(notion_ctx, CreatePageInput(parent_database_id=hidden, title="x"))

    assert raised.value.status_code == 404


async def test_append_to_page(fake_notion: FakeNotion, notion_ctx: ConnectorContext) -> None:
    page_id = fake_notion.add_page("Journal")

    result = await AppendToPage().run(
        notion_ctx, AppendToPageInput(page_id=page_id, content="## Today\nAll good.")
    )

    assert result.blocks_added == 2
    assert [block["type"] for block in fake_notion.children[page_id]] == ["heading_2", "paragraph"]


async def test_query_database_filters_sorts_and_pages(
    fake_notion: FakeNotion, notion_ctx: ConnectorContext
) -> None:
    database_id = tasks_database(fake_notion)
    for name, status, points in (("a", "Done", 1), ("b", "Open", 5), ("c", "Done", 3), ("d", "Done", 2)):
        fake_notion.add_row(
            database_id, Name=name, Status=status, Points=points, Tags=["x"], Due="2026-02-01"
        )
    query = QueryDatabaseInput(
        database_id=database_id,
        filter={"property": "Status", "status": {"equals": "Done"}},
        sorts=[{"property": "Points", "direction": "descending"}],
        page_size=2,
    )

    first = await QueryDatabase().run(notion_ctx, query)
    second = await QueryDatabase().run(
        notion_ctx, query.model_copy(update={"start_cursor": first.next_cursor})
    )

    assert [row.title for row in first.results] == ["c", "d"]
    assert first.has_more is True
    assert [row.title for row in second.results] == ["a"]
    assert second.has_more is False
    assert second.next_cursor is None
    assert first.results[0].properties == {
        "Name": "c", "Status": "Done", "Tags": ["x"], "Due": "2026-02-01", "Points": 3, "Done": False,
    }  # fmt: skip


async def test_query_database_accepts_filter_as_json_text(
    fake_notion: FakeNotion, notion_ctx: ConnectorContext
) -> None:
    database_id = tasks_database(fake_notion)
    fake_notion.add_row(database_id, Name="only", Points=9)
    fake_notion.add_row(database_id, Name="other", Points=1)

    params = QueryDatabaseInput.model_validate(
        {
            "database_id": database_id,
            "filter": json.dumps({"property": "Points", "number": {"greater_than": 5}}),
        }
    )
    result = await QueryDatabase().run(notion_ctx, params)

    assert [row.title for row in result.results] == ["only"]


async def test_update_page_properties_and_archive(
    fake_notion: FakeNotion, notion_ctx: ConnectorContext
) -> None:
    database_id = tasks_database(fake_notion)
    page_id = fake_notion.add_row(database_id, Name="task", Status="Open")

    updated = await UpdatePage().run(
        notion_ctx,
        UpdatePageInput(page_id=page_id, properties={"Status": "Done", "Tags": "a, b"}, archived=True),
    )

    assert updated.properties["Status"] == "Done"
    assert updated.properties["Tags"] == ["a", "b"]
    assert updated.archived is True
    assert fake_notion.pages[page_id]["archived"] is True


async def test_get_page_with_content(fake_notion: FakeNotion, notion_ctx: ConnectorContext) -> None:
    page_id = fake_notion.add_page("Recipe")
    await AppendToPage().run(
        notion_ctx, AppendToPageInput(page_id=page_id, content="# Steps\n- [ ] boil water")
    )

    page = await GetPage().run(notion_ctx, GetPageInput(page_id=page_id, include_content=True))

    assert page.title == "Recipe"
    assert page.content == "# Steps\n- [ ] boil water"


async def test_list_databases_for_the_assistant(
    fake_notion: FakeNotion, notion_ctx: ConnectorContext
) -> None:
    tasks = tasks_database(fake_notion)
    crm = fake_notion.add_database("CRM", {"Company": "title"})
    fake_notion.add_page("Not a database")

    assert await list_databases(notion_ctx) == [{"id": tasks, "title": "Tasks"}, {"id": crm, "title": "CRM"}]
    assert fake_notion.requests_to("/v1/search")[0].json()["filter"] == {
        "property": "object",
        "value": "database",
    }


async def test_connection_test_names_the_bot(notion_ctx: ConnectorContext) -> None:
    result = await connector.test(notion_ctx)

    assert result.ok
    assert result.account == "Autofy Bot"
    assert "Acme" in result.message


# --- failure modes, for every action ------------------------------------------------------------

ActionCase = tuple[Action[Any, Any], Callable[[str, str], dict[str, Any]]]
ACTIONS: dict[str, ActionCase] = {
    "create_page": (
        CreatePage(),
        lambda db, _: {"parent_database_id": db, "title": "t", "properties": {"Status": "Done"}},
    ),
    "append_to_page": (AppendToPage(), lambda _, page: {"page_id": page, "content": "hello"}),
    "query_database": (QueryDatabase(), lambda db, _: {"database_id": db}),
    "update_page": (UpdatePage(), lambda _, page: {"page_id": page, "properties": {"Status": "Done"}}),
    "get_page": (GetPage(), lambda _, page: {"page_id": page, "include_content": True}),
}


async def _run(name: str, ctx: ConnectorContext, fake: FakeNotion) -> Any:
    action, params = ACTIONS[name]
    database_id = tasks_database(fake)
    page_id = fake.add_row(database_id, Name="row", Status="Open")
    return await action.run(ctx, action.input_model.model_validate(params(database_id, page_id)))


@pytest.mark.parametrize("name", ACTIONS)
async def test_action_succeeds(name: str, fake_notion: FakeNotion, notion_ctx: ConnectorContext) -> None:
    output = await _run(name, notion_ctx, fake_notion)

    assert isinstance(output, ACTIONS[name][0].output_model)


@pytest.mark.parametrize("name", ACTIONS)
async def test_action_auth_failure(name: str, fake_notion: FakeNotion, notion_ctx: ConnectorContext) -> None:
    notion_ctx.credentials = {"token": "ntn_revoked"}

    with pytest.raises(
        AuthenticationError, match=r"Notion answered 401: API token is invalid. \(unauthorized\)"
    ):
        await _run(name, notion_ctx, fake_notion)


@pytest.mark.parametrize("name", ACTIONS)
async def test_action_rate_limited(name: str, fake_notion: FakeNotion, notion_ctx: ConnectorContext) -> None:
    fake_notion.fail(429, "You have been rate limited. Please try again in a few minutes.", retry_after=3)

    with pytest.raises(TransientError, match="rate_limited") as raised:
        await _run(name, notion_ctx, fake_notion)

    assert raised.value.retry_after == 3


@pytest.mark.parametrize("name", ACTIONS)
async def test_action_server_error(name: str, fake_notion: FakeNotion, notion_ctx: ConnectorContext) -> None:
    fake_notion.fail(502, "Bad gateway")

    with pytest.raises(TransientError, match="Notion answered 502"):
        await _run(name, notion_ctx, fake_notion)


@pytest.mark.parametrize("name", ACTIONS)
async def test_action_malformed_response(
    name: str, fake_notion: FakeNotion, notion_ctx: ConnectorContext
) -> None:
    fake_notion.malformed()

    with pytest.raises(TransientError, match="malformed"):
        await _run(name, notion_ctx, fake_notion)


async def test_a_json_body_of_the_wrong_shape_is_reported(
    fake_notion: FakeNotion, notion_ctx: ConnectorContext
) -> None:
    fake_notion.fail(200, body={"object": "list", "results": "nope"}, path_contains="/query")

    with pytest.raises(TransientError, match="without a 'results' list"):
        await _run("query_database", notion_ctx, fake_notion)


@pytest.mark.parametrize("name", ACTIONS)
async def test_token_never_appears_in_errors_or_outputs(
    name: str, fake_notion: FakeNotion, notion_ctx: ConnectorContext
) -> None:
    texts = [json.dumps((await _run(name, notion_ctx, fake_notion)).model_dump())]
    for status in (400, 404, 429, 500):
        fake_notion.fail(status, "simulated")
        with pytest.raises(TransientError if status >= 429 else PermanentError) as raised:
            await _run(name, notion_ctx, fake_notion)
        texts.append(str(raised.value))

    assert not [text for text in texts if fake_notion.token in text]
