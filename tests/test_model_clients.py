"""The LLM seam, through litellm's real HTTP path against a local OpenAI-compatible stub."""

from __future__ import annotations

import json
import socket
from typing import TYPE_CHECKING, Any

import pytest
from autogen_core import FunctionCall
from autogen_core.models import (
    AssistantMessage,
    CreateResult,
    FunctionExecutionResult,
    FunctionExecutionResultMessage,
    LLMMessage,
    SystemMessage,
    UserMessage,
)
from autogen_core.tools import FunctionTool
from pydantic import BaseModel, ValidationError

from recteam.errors import ConfigError, ModelUnavailableError
from recteam.orchestration.llm_settings import AgentModelOverride, LLMSettings, ModelSettings
from recteam.orchestration.model_clients import (
    LiteLLMChatCompletionClient,
    ModelEvent,
    build_chat_client,
)

if TYPE_CHECKING:  # imported by pytest_plugins, so that pytest rewrites its asserts
    from tests.llm_stub import LLMStub

# litellm's streaming types trip a pydantic warning on first use; it is litellm's to fix.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Item .* is using the `ReadOnly` qualifier:UserWarning"
)

KEY_ENV = "STUB_LLM_KEY"
ASK: list[LLMMessage] = [
    SystemMessage(content="You recommend films."),
    UserMessage(content="Something like Arrival?", source="user"),
]


class Pick(BaseModel):
    title: str
    year: int


async def search_films(query: str, year_min: int | None = None) -> str:
    """Searches the catalog."""
    return query


@pytest.fixture
def events() -> list[ModelEvent]:
    return []


@pytest.fixture
def make_client(llm_stub: LLMStub, events: list[ModelEvent], monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(KEY_ENV, "stub-key")

    def make(**overrides: Any) -> LiteLLMChatCompletionClient:
        fields = {
            "model": "openai/stub-model",
            "api_base": llm_stub.api_base,
            "api_key_env": KEY_ENV,
        }
        settings = ModelSettings(**{"backoff": 0.01, **fields, **overrides})
        client = build_chat_client(settings, on_event=events.append)
        assert client is not None
        return client

    return make


async def test_create_returns_the_reply_with_usage(llm_stub: LLMStub, make_client) -> None:
    llm_stub.reply("Try Contact, it is gentler.")
    client = make_client(temperature=0.7)

    result = await client.create(ASK)

    assert result.content == "Try Contact, it is gentler."
    assert result.finish_reason == "stop"
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (9, 5)
    assert client.total_usage() == result.usage
    assert client.last_call is not None
    assert client.last_call.model == "openai/stub-model"
    assert (client.last_call.retries, client.last_call.fallback_used) == (0, False)
    assert client.last_call.cost == 0.0  # the stub model has no price
    sent = llm_stub.requests[-1]
    assert sent.headers["authorization"] == "Bearer stub-key"
    assert sent.body["model"] == "stub-model"
    assert sent.body["temperature"] == 0.7
    assert sent.body["messages"] == [
        {"role": "system", "content": "You recommend films."},
        {"role": "user", "content": "Something like Arrival?"},
    ]


async def test_a_priced_model_reports_its_cost(llm_stub: LLMStub, make_client) -> None:
    llm_stub.reply("Arrival.")
    client = make_client(model="openai/gpt-4o-mini")  # in litellm's price table

    result = await client.create(ASK)

    assert 0 < result.call.cost < 0.001
    assert client.last_call == result.call


async def test_create_stream_yields_chunks_then_the_whole_result(
    llm_stub: LLMStub, make_client
) -> None:
    llm_stub.reply("Contact and Interstellar both fit.")
    client = make_client()

    items = [item async for item in client.create_stream(ASK)]

    chunks, final = items[:-1], items[-1]
    assert len(chunks) > 1 and all(isinstance(c, str) for c in chunks)
    assert isinstance(final, CreateResult)
    assert isinstance(final.content, str)
    assert final.content.strip() == "Contact and Interstellar both fit."
    assert "".join(c for c in chunks if isinstance(c, str)) == final.content
    assert (final.usage.prompt_tokens, final.usage.completion_tokens) == (9, 5)
    assert llm_stub.requests[-1].body["stream"] is True


async def test_tool_call_round_trip(llm_stub: LLMStub, make_client) -> None:
    tool = FunctionTool(search_films, description="Searches the catalog.")
    llm_stub.tool_call("search_films", {"query": "first contact", "year_min": 2000})
    llm_stub.reply("Arrival fits.")
    client = make_client()

    first = await client.create(ASK, tools=[tool])

    assert first.finish_reason == "function_calls"
    assert isinstance(first.content, list)
    [call] = first.content
    assert isinstance(call, FunctionCall)
    assert call.name == "search_films"
    assert json.loads(call.arguments) == {"query": "first contact", "year_min": 2000}
    [sent_tool] = llm_stub.requests[-1].body["tools"]
    assert sent_tool["function"]["name"] == "search_films"
    assert set(sent_tool["function"]["parameters"]["properties"]) == {"query", "year_min"}

    result = FunctionExecutionResult(content="Arrival (2016)", name=call.name, call_id=call.id)
    follow_up = [
        *ASK,
        AssistantMessage(content=first.content, source="searcher"),
        FunctionExecutionResultMessage(content=[result]),
    ]
    second = await client.create(follow_up, tools=[tool])

    assert second.content == "Arrival fits."
    sent = llm_stub.requests[-1].body["messages"]
    assert sent[2]["tool_calls"][0]["id"] == call.id
    assert sent[2]["tool_calls"][0]["function"]["name"] == "search_films"
    assert sent[3] == {"role": "tool", "tool_call_id": call.id, "content": "Arrival (2016)"}


async def test_streamed_tool_call_ends_in_function_calls(llm_stub: LLMStub, make_client) -> None:
    llm_stub.tool_call("search_films", {"query": "heist"})
    client = make_client()

    items = [
        item
        async for item in client.create_stream(ASK, tools=[FunctionTool(search_films, "Search.")])
    ]

    final = items[-1]
    assert isinstance(final, CreateResult)
    assert isinstance(final.content, list)
    assert [(c.name, json.loads(c.arguments)) for c in final.content] == [
        ("search_films", {"query": "heist"})
    ]


async def test_structured_output_sends_the_pydantic_schema(llm_stub: LLMStub, make_client) -> None:
    llm_stub.reply_json({"title": "Arrival", "year": 2016})
    client = make_client()

    result = await client.create(ASK, json_output=Pick)

    assert isinstance(result.content, str)
    assert Pick.model_validate_json(result.content) == Pick(title="Arrival", year=2016)
    response_format = llm_stub.requests[-1].body["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["name"] == "Pick"
    assert set(response_format["json_schema"]["schema"]["properties"]) == {"title", "year"}


@pytest.mark.parametrize(
    ("json_output", "structured_output"),
    [(True, True), (Pick, False)],
    ids=["json-mode", "no-schema-support"],
)
async def test_json_mode(
    llm_stub: LLMStub, make_client, json_output: Any, structured_output: bool
) -> None:
    llm_stub.reply_json({"title": "Arrival", "year": 2016})
    client = make_client(structured_output=structured_output)

    await client.create(ASK, json_output=json_output)

    assert llm_stub.requests[-1].body["response_format"] == {"type": "json_object"}


async def test_rate_limit_is_retried_and_reported(llm_stub: LLMStub, make_client, events) -> None:
    llm_stub.fail(429)
    llm_stub.reply("Arrival.")
    client = make_client(retries=2)

    result = await client.create(ASK)

    assert result.content == "Arrival."
    assert len(llm_stub.requests) == 2
    assert [(e.kind, e.model, e.attempt) for e in events] == [("retry", "openai/stub-model", 1)]
    assert "rate limited" in events[0].error
    assert client.last_call is not None
    assert client.last_call.retries == 1


async def test_timeout_falls_back_to_the_next_model(llm_stub: LLMStub, make_client, events) -> None:
    llm_stub.reply("too late", model="stub-model", delay=3)
    llm_stub.reply("Arrival, from the fallback.", model="stub-fallback")
    client = make_client(timeout=0.3, retries=0, fallbacks=["openai/stub-fallback"])

    result = await client.create(ASK)

    assert result.content == "Arrival, from the fallback."
    [event] = events
    assert (event.kind, event.model, event.next_model) == (
        "fallback",
        "openai/stub-model",
        "openai/stub-fallback",
    )
    assert "timed out" in event.error
    assert client.last_call is not None
    assert (client.last_call.model, client.last_call.fallback_used) == (
        "openai/stub-fallback",
        True,
    )


async def test_streaming_also_falls_back(llm_stub: LLMStub, make_client, events) -> None:
    llm_stub.fail(500, model="stub-model")
    llm_stub.reply("Arrival.", model="stub-fallback")
    client = make_client(retries=0, fallbacks=["openai/stub-fallback"])

    items = [item async for item in client.create_stream(ASK)]

    assert [e.kind for e in events] == ["fallback"]
    final = items[-1]
    assert isinstance(final, CreateResult)
    assert isinstance(final.content, str)
    assert final.content.strip() == "Arrival."


async def test_all_models_failing_raises_one_plain_sentence(
    llm_stub: LLMStub, make_client, events
) -> None:
    for _ in range(2):
        llm_stub.fail(503, model="stub-model")
        llm_stub.fail(429, model="stub-fallback")
    client = make_client(retries=1, fallbacks=["openai/stub-fallback"])

    with pytest.raises(ModelUnavailableError) as raised:
        await client.create(ASK)

    message = str(raised.value)
    assert "\n" not in message and message.endswith(".")
    assert message.startswith(
        "The LLM openai/stub-model failed with a server error (HTTP 503) (2 attempts)"
    )
    assert "fallback openai/stub-fallback was rate limited" in message
    assert "llm.retries" in message
    assert [e.kind for e in events] == ["retry", "fallback", "retry", "error"]
    assert events[-1].error == message


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("script", "overrides", "cause", "setting"),
    [
        ("delay", {"timeout": 0.3}, "timed out after 0.3 s", "llm.timeout"),
        ("401", {}, "rejected the API key", f"${KEY_ENV}"),
        ("unreachable", {}, "could not reach http://127.0.0.1:", "llm.api_base"),
    ],
)
async def test_failure_message_names_cause_and_setting(
    llm_stub: LLMStub, make_client, script: str, overrides: dict[str, Any], cause: str, setting: str
) -> None:
    if script == "delay":
        llm_stub.reply("too late", delay=3)
    elif script == "401":
        llm_stub.fail(401)
    else:
        overrides["api_base"] = f"http://127.0.0.1:{_closed_port()}/v1"
    client = make_client(retries=0, **overrides)

    with pytest.raises(ModelUnavailableError) as raised:
        await client.create(ASK)

    assert str(raised.value).startswith(f"The LLM openai/stub-model {cause}")
    assert setting in str(raised.value)


def test_agent_override_is_merged_onto_the_global_settings() -> None:
    llm = LLMSettings.model_validate(
        {
            "model": "openai/gpt-4o-mini",
            "temperature": 0.5,
            "timeout": 30,
            "fallbacks": ["openai/gpt-4o"],
            "agents": {
                "responder": {
                    "model": "ollama/llama3.1",
                    "api_base": "http://localhost:11434",
                    "temperature": 0.9,
                }
            },
        }
    )

    responder = llm.for_agent("responder")
    manager = llm.for_agent("manager")

    assert (responder.model, responder.api_base, responder.temperature) == (
        "ollama/llama3.1",
        "http://localhost:11434",
        0.9,
    )
    assert (responder.timeout, responder.fallbacks) == (30, ["openai/gpt-4o"])  # inherited
    assert manager == ModelSettings(**llm.model_dump(exclude={"agents"}))


def test_override_has_every_model_setting_and_no_unknown_roles() -> None:
    assert set(AgentModelOverride.model_fields) == set(ModelSettings.model_fields)
    with pytest.raises(ValidationError):
        LLMSettings.model_validate({"agents": {"critic": {"model": "openai/gpt-4o"}}})
    with pytest.raises(ValidationError):
        LLMSettings.model_validate({"agents": {"manager": {"modle": "openai/gpt-4o"}}})


def test_offline_builds_no_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    llm = LLMSettings(agents={"responder": AgentModelOverride(model="openai/gpt-4o-mini")})

    assert llm.model == "offline"
    assert build_chat_client(llm) is None
    assert build_chat_client(llm.for_agent("manager")) is None
    assert build_chat_client(llm.for_agent("responder")) is not None


def test_missing_key_variable_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)

    with pytest.raises(ConfigError, match=f"api_key_env names {KEY_ENV}"):
        build_chat_client(ModelSettings(model="openai/gpt-4o-mini", api_key_env=KEY_ENV))


def test_model_info_and_token_budget_come_from_settings() -> None:
    settings = ModelSettings(
        model="ollama/some-local-model", vision=True, family="llama-3.3-8b", context_window=4096
    )
    client = LiteLLMChatCompletionClient(settings)

    assert client.model_info == {
        "vision": True,
        "function_calling": True,
        "json_output": True,
        "family": "llama-3.3-8b",
        "structured_output": True,
    }
    used = client.count_tokens(ASK)
    assert used > 0
    assert client.remaining_tokens(ASK) == 4096 - used
    known = LiteLLMChatCompletionClient(ModelSettings(model="openai/gpt-4o-mini"))
    assert known.remaining_tokens(ASK) > 100_000  # litellm knows this one's context window
