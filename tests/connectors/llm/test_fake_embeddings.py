"""The fake servers' embedding endpoints, through the real LangChain clients, as the assistant's
semantic search will use them: deterministic, unit length, the dimension asked for, and texts
that share words closer than texts that do not."""

from __future__ import annotations

import math

import openai
import pytest
from langchain_google_genai import GoogleGenerativeAIEmbeddings
from langchain_openai import OpenAIEmbeddings
from pydantic import SecretStr

from tests.fakes.gemini import FakeGemini
from tests.fakes.openai import FakeOpenAI

TEXTS = ["invoice from the bank", "the bank sent an invoice", "weekend hiking trip"]


def _cosine(left: list[float], right: list[float]) -> float:
    return sum(a * b for a, b in zip(left, right, strict=True))


def _assert_embeddings(vectors: list[list[float]], dimensions: int) -> None:
    assert [len(vector) for vector in vectors] == [dimensions] * len(TEXTS)
    assert all(math.isclose(_cosine(vector, vector), 1.0, rel_tol=1e-5) for vector in vectors)
    assert _cosine(vectors[0], vectors[1]) > _cosine(vectors[0], vectors[2])


async def test_openai_embeddings_are_deterministic_unit_vectors(fake_openai: FakeOpenAI) -> None:
    http_client = openai.DefaultAsyncHttpxClient()
    embeddings = OpenAIEmbeddings(
        model="text-embedding-3-small",
        api_key=SecretStr(fake_openai.api_key),
        base_url=fake_openai.api_base,
        dimensions=256,
        check_embedding_ctx_length=False,  # send text: tiktoken's vocabularies need the internet
        max_retries=0,
        http_async_client=http_client,
    )

    try:
        vectors = await embeddings.aembed_documents(TEXTS)
        query_vector = await embeddings.aembed_query(TEXTS[0])
    finally:
        await http_client.aclose()

    _assert_embeddings(vectors, 256)
    assert query_vector == pytest.approx(vectors[0], abs=1e-6)
    assert fake_openai.requests_to("/v1/embeddings")[0].json()["dimensions"] == 256


async def test_openai_embeddings_also_come_base64_encoded(fake_openai: FakeOpenAI) -> None:
    # The openai SDK asks for base64 unless told otherwise, and decodes it itself.
    async with openai.AsyncOpenAI(api_key=fake_openai.api_key, base_url=fake_openai.api_base) as client:
        response = await client.embeddings.create(model="text-embedding-3-small", input=TEXTS, dimensions=64)

    assert fake_openai.requests_to("/v1/embeddings")[0].json()["encoding_format"] == "base64"
    _assert_embeddings([item.embedding for item in response.data], 64)


async def test_gemini_embeddings_are_deterministic_unit_vectors(fake_gemini: FakeGemini) -> None:
    embeddings = GoogleGenerativeAIEmbeddings(
        model="text-embedding-004",
        google_api_key=SecretStr(fake_gemini.api_key),
        base_url=fake_gemini.api_base,
        output_dimensionality=128,
    )

    try:
        vectors = await embeddings.aembed_documents(TEXTS)
        query_vector = await embeddings.aembed_query(TEXTS[0])
    finally:
        await embeddings.client.aio.aclose()

    _assert_embeddings(vectors, 128)
    assert query_vector == pytest.approx(vectors[0], abs=1e-6)
    assert fake_gemini.requests[0].path.endswith("/models/text-embedding-004:batchEmbedContents")
