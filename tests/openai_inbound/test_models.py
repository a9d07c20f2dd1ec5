"""`GET /v1/models` and `/openai/v1/models` for OpenAI clients: what the key reaches, in OpenAI's list
shape, and `GET …/models/{model}` for one of them."""

from __future__ import annotations

from collections.abc import Callable

import aiohttp
import openai
import pytest

from tests.conftest import SECRET, Gateway
from tests.openai_inbound.conftest import BASE_PATHS, bearer

SDK = Callable[..., openai.AsyncOpenAI]


@pytest.mark.parametrize("base_path", BASE_PATHS)
async def test_the_sdk_lists_the_models_the_key_reaches(sdk: SDK, base_path: str) -> None:
    models = [model async for model in sdk(base_path).models.list()]
    ids = [model.id for model in models]
    assert ids[:2] == ["fast", "smart"]  # the profile's exact rules first
    assert "gpt-4o-mini" in ids and "claude-sonnet-4-5" in ids
    assert "nope" not in ids
    assert {(model.object, model.owned_by) for model in models} == {("model", "axonhub")}


async def test_the_openai_prefix_answers_in_openai_shape_whatever_the_headers(
    gateway: Gateway, http: aiohttp.ClientSession
) -> None:
    headers = {"x-api-key": SECRET, "anthropic-version": "2023-06-01"}
    async with http.get(gateway.url + "/openai/v1/models", headers=headers) as response:
        body = await response.json()
    assert response.status == 200
    assert body["object"] == "list"
    assert body["data"][0] == {"id": "fast", "object": "model", "created": 1735689600, "owned_by": "axonhub"}


async def test_listing_without_a_key_is_a_401_in_openai_shape(gateway: Gateway, http: aiohttp.ClientSession) -> None:
    async with http.get(gateway.url + "/openai/v1/models") as response:
        body = await response.json()
    assert response.status == 401
    assert body["error"]["code"] == "invalid_api_key"


@pytest.mark.parametrize("base_path", BASE_PATHS)
async def test_the_sdk_retrieves_a_model_the_key_reaches(sdk: SDK, base_path: str) -> None:
    model = await sdk(base_path).models.retrieve("fast")
    assert (model.id, model.object, model.created, model.owned_by) == ("fast", "model", 1735689600, "axonhub")


async def test_a_model_id_with_a_slash_or_a_colon_is_looked_up_whole(
    gateway: Gateway, http: aiohttp.ClientSession
) -> None:
    for model in ("openrouter/some-model", "ft:gpt-4o-mini:org::abc"):
        async with http.get(f"{gateway.url}/v1/models/{model}", headers=bearer()) as response:
            body = await response.json()
        assert response.status == 404
        assert body["error"]["message"] == f"model {model!r} is not served to this key"


async def test_retrieving_a_model_the_key_does_not_reach_is_the_sdks_not_found_error(sdk: SDK) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        await sdk().models.retrieve("nope")
    assert caught.value.status_code == 404
    assert "'nope'" in caught.value.message
