from __future__ import annotations

import pytest

from autofy.connectors.sdk import PermanentError, TransientError
from tests.connectors.core.conftest import RunCore
from tests.fakes.http_echo import HttpEcho


async def test_sends_method_query_headers_and_json_body(run_core: RunCore, echo: HttpEcho) -> None:
    output = await run_core(
        "http_request",
        {
            "method": "POST",
            "url": f"{echo.url}/echo",
            "query": {"page": 2, "full": True},
            "headers": {"X-Trace": "abc"},
            "json_body": {"name": "Ada"},
        },
    )
    assert output["status_code"] == 200
    assert output["ok"] is True
    sent = echo.requests_to("/echo")[0]
    assert sent.method == "POST"
    assert sent.query == {"page": "2", "full": "true"}
    assert sent.headers["x-trace"] == "abc"
    assert sent.json() == {"name": "Ada"}
    assert output["body"]["method"] == "POST"
    assert output["headers"]["content-type"] == "application/json"


async def test_sends_a_form_body(run_core: RunCore, echo: HttpEcho) -> None:
    await run_core("http_request", {"method": "PUT", "url": f"{echo.url}/echo", "form_body": {"a": "1 2"}})
    sent = echo.requests_to("/echo")[0]
    assert sent.body == b"a=1+2"
    assert sent.headers["content-type"] == "application/x-www-form-urlencoded"


async def test_text_and_mislabelled_bodies_come_back_as_text(run_core: RunCore, echo: HttpEcho) -> None:
    assert (await run_core("http_request", {"url": f"{echo.url}/text"}))["body"] == "hello, plain text"
    assert (await run_core("http_request", {"url": f"{echo.url}/mislabelled-json"}))[
        "body"
    ] == "not json at all"


async def test_redirects_are_followed_unless_asked_not_to(run_core: RunCore, echo: HttpEcho) -> None:
    target = f"{echo.url}/echo"
    followed = await run_core("http_request", {"url": f"{echo.url}/redirect?to={target}"})
    assert followed["body"]["path"] == "/echo"
    kept = await run_core(
        "http_request", {"url": f"{echo.url}/redirect?to={target}", "follow_redirects": False}
    )
    assert kept["status_code"] == 302
    assert kept["headers"]["location"] == target


async def test_server_errors_are_transient(run_core: RunCore, echo: HttpEcho) -> None:
    with pytest.raises(TransientError) as error:
        await run_core("http_request", {"url": f"{echo.url}/status/503"})
    assert error.value.status_code == 503
    assert "simulated 503" in error.value.message


async def test_rate_limits_are_transient_with_retry_after(run_core: RunCore, echo: HttpEcho) -> None:
    with pytest.raises(TransientError) as error:
        await run_core("http_request", {"url": f"{echo.url}/status/429?retry_after=7"})
    assert error.value.retry_after == 7.0


async def test_client_errors_are_permanent(run_core: RunCore, echo: HttpEcho) -> None:
    with pytest.raises(PermanentError) as error:
        await run_core("http_request", {"url": f"{echo.url}/status/404"})
    assert error.value.status_code == 404
    assert not error.value.retryable


async def test_error_statuses_can_be_outputs(run_core: RunCore, echo: HttpEcho) -> None:
    output = await run_core("http_request", {"url": f"{echo.url}/status/500", "fail_on_error_status": False})
    assert output["ok"] is False
    assert output["status_code"] == 500
    assert output["body"] == {"error": "simulated 500"}


async def test_timeouts_are_transient(run_core: RunCore, echo: HttpEcho) -> None:
    echo.slow(2.0)
    with pytest.raises(TransientError, match=r"did not answer within 0\.3 s"):
        await run_core("http_request", {"url": f"{echo.url}/echo", "timeout_seconds": 0.3})


@pytest.mark.parametrize(
    ("configuration", "field"),
    [
        ({"url": "ftp://example.com/"}, "url"),
        ({"url": "https://example.com", "timeout_seconds": 600}, "timeout_seconds"),
        ({"url": "https://example.com", "json_body": {}, "form_body": {}}, "configuration"),
        ({"url": "https://example.com", "method": "FETCH"}, "method"),
    ],
)
async def test_invalid_configuration_is_a_permanent_error_naming_the_field(
    run_core: RunCore, configuration: dict[str, object], field: str
) -> None:
    with pytest.raises(PermanentError, match=f"invalid configuration: {field}"):
        await run_core("http_request", configuration)
