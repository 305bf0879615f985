"""Endpoints as units (issue 12): keys only to their own server, problems found before the first
call, dead servers cooled down, hung ones cut off in time for the offline policy. Real HTTP
through litellm to the local stub (tests/llm_stub.py)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from autogen_core.models import UserMessage

from recteam.errors import ConfigError, ModelUnavailableError
from recteam.orchestration.llm_settings import (
    AgentModelOverride,
    Endpoint,
    LLMSettings,
    ModelSettings,
)
from recteam.orchestration.model_clients import (
    ModelEvent,
    build_chat_client,
    check_endpoint,
    turn_deadline,
)
from tests.llm_stub import LLMStub

pytest_plugins = ["tests.llm_stub"]
ASK = [UserMessage(content="One film?", source="user")]


def client_for(settings: ModelSettings, events: list[ModelEvent] | None = None) -> Any:
    client = build_chat_client(settings, on_event=(events.append if events is not None else None))
    assert client is not None
    return client


def bearer(stub: LLMStub, n: int = -1) -> str:
    return stub.requests[n].headers.get("authorization", "")


# -- keys go only where they were configured ------------------------------------------------------
def test_a_role_on_another_server_inherits_neither_the_server_nor_the_key() -> None:
    llm = LLMSettings(
        model="openai/gpt-4o-mini",
        api_key_env="GLOBAL_KEY",
        api_base="https://gateway.example/v1",
        timeout=30,
        agents={
            "responder": AgentModelOverride(model="hosted_vllm/qwen", api_base="http://vllm:8000"),
            "manager": AgentModelOverride(model="ollama/llama3.1"),
            "reflector": AgentModelOverride(temperature=0.0),
        },
    )
    responder, manager, reflector = (
        llm.for_agent(r) for r in ("responder", "manager", "reflector")
    )
    assert (responder.api_base, responder.api_key_env) == ("http://vllm:8000", None)
    assert (manager.api_base, manager.api_key_env) == (None, None)
    assert (reflector.api_base, reflector.api_key_env) == (
        "https://gateway.example/v1",
        "GLOBAL_KEY",
    )
    assert responder.timeout == manager.timeout == 30  # other settings are still inherited


async def test_a_custom_server_without_a_key_variable_is_sent_no_provider_key(
    llm_stub: LLMStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-meant-for-openai")
    llm_stub.reply("Arrival.")
    client = client_for(ModelSettings(model="openai/local", api_base=llm_stub.api_base))

    await client.create(ASK)

    assert "sk-meant-for-openai" not in bearer(llm_stub)


async def test_a_fallback_on_another_server_gets_its_own_key_only(
    llm_stub: LLMStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PRIMARY_KEY", "sk-primary")
    monkeypatch.setenv("SECOND_KEY", "sk-second")
    llm_stub.fail(401, model="first")
    llm_stub.reply("Arrival.", model="second")
    dead_base = llm_stub.api_base  # the same stub plays both servers; the keys tell them apart
    settings = ModelSettings(
        model="openai/first",
        api_base=dead_base,
        api_key_env="PRIMARY_KEY",
        retries=0,
        fallbacks=[Endpoint(model="openai/second", api_base=dead_base, api_key_env="SECOND_KEY")],
    )

    result = await client_for(settings).create(ASK)

    assert result.content == "Arrival."
    assert [bearer(llm_stub, n) for n in (0, 1)] == ["Bearer sk-primary", "Bearer sk-second"]


# -- checked before the first call ----------------------------------------------------------------
def test_an_unknown_provider_is_a_config_error_with_a_suggestion() -> None:
    with pytest.raises(
        ConfigError, match=r"no provider for 'opnai/gpt-4o'.*did you mean 'openai/gpt-4o'"
    ):
        check_endpoint(Endpoint(model="opnai/gpt-4o"))


def test_a_missing_provider_key_is_a_config_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="needs OPENAI_API_KEY"):
        build_chat_client(ModelSettings(model="openai/gpt-4o-mini"))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    assert build_chat_client(ModelSettings(model="openai/gpt-4o-mini")) is not None


def test_a_local_server_needs_no_key() -> None:
    check_endpoint(Endpoint(model="ollama/llama3.1"))
    check_endpoint(Endpoint(model="hosted_vllm/qwen", api_base="http://localhost:8000/v1"))


async def test_a_reasoning_model_is_not_sent_the_temperature_it_refuses(llm_stub: LLMStub) -> None:
    llm_stub.reply("Arrival.")
    client = client_for(ModelSettings(model="openai/o3-mini", api_base=llm_stub.api_base))

    await client.create(ASK)

    assert "temperature" not in llm_stub.requests[-1].body


# -- failing and hung servers ---------------------------------------------------------------------
async def test_retry_after_is_honoured(llm_stub: LLMStub) -> None:
    llm_stub.fail(429, headers={"Retry-After": "1"})
    llm_stub.reply("Arrival.")
    client = client_for(
        ModelSettings(model="openai/m", api_base=llm_stub.api_base, retries=1, backoff=0.01)
    )
    started = time.monotonic()

    await client.create(ASK)

    assert time.monotonic() - started >= 0.9  # the server's second, not the 10 ms backoff


async def test_a_dead_server_is_cooled_down_for_every_client(llm_stub: LLMStub) -> None:
    for _ in range(3):
        llm_stub.fail(500)
    settings = ModelSettings(model="openai/m", api_base=llm_stub.api_base, retries=1, backoff=0.01)
    with pytest.raises(ModelUnavailableError):
        await client_for(settings).create(ASK)
    assert len(llm_stub.requests) == 2

    events: list[ModelEvent] = []
    with pytest.raises(ModelUnavailableError, match="skipped"):
        await client_for(settings, events).create(ASK)  # another role, the same server

    assert len(llm_stub.requests) == 2  # not called again while it cools down
    assert [e.kind for e in events] == ["cooldown", "error"]


async def test_a_hung_model_stops_in_time_for_the_offline_policy(llm_stub: LLMStub) -> None:
    llm_stub.reply("far too late", delay=30)
    client = client_for(ModelSettings(model="openai/m", api_base=llm_stub.api_base, timeout=60))
    token = turn_deadline.set(time.monotonic() + 4.0)
    started = time.monotonic()
    try:
        with pytest.raises(ModelUnavailableError):
            await client.create(ASK)
    finally:
        turn_deadline.reset(token)
    assert time.monotonic() - started < 4.0  # cut off before the turn deadline, not after 30 s


def test_ollama_goes_through_its_chat_endpoint_with_the_entry_context_window() -> None:
    settings = ModelSettings(
        model="ollama/llama3.1", api_base="http://localhost:11434", context_window=16384
    )
    args = client_for(settings)._call_args(0, 10.0)
    assert (args["model"], args["num_ctx"]) == ("ollama_chat/llama3.1", 16384)
    assert args["api_base"] == "http://localhost:11434"


def test_ask_says_so_and_exits_non_zero_when_every_model_failed(
    llm_stub: LLMStub, tmp_path: Any
) -> None:
    from tests.test_cli import recteam

    env = {
        "RECTEAM_LLM__MODEL": "openai/stub-model",
        "RECTEAM_LLM__API_BASE": llm_stub.api_base,
        "RECTEAM_LLM__RETRIES": "0",
    }
    done = recteam("ask", "a comedy from the 90s", "--json", cwd=tmp_path, env=env)

    assert done.returncode == 3, done.stderr
    out = __import__("json").loads(done.stdout)  # stdout holds the JSON alone
    assert out["offline_only"] and out["reply"]  # the offline policy still answered
    assert "every configured model failed" in done.stderr
    assert set(out["fell_back"]) >= {"manager", "user_analyst", "responder"}
    notices = [e for e in out["trace"] if e["kind"] == "model_notice"]
    assert notices and all("notice" in e for e in notices)  # its own kind, not the event's
    # an unknown provider: one line naming the setting, exit 2, no call made
    calls = len(llm_stub.requests)
    bad = recteam("ask", "hi", cwd=tmp_path, env={**env, "RECTEAM_LLM__MODEL": "opnai/x"})
    assert bad.returncode == 2 and "llm.model" in bad.stderr and len(llm_stub.requests) == calls


async def test_ollama_is_called_at_its_chat_endpoint_with_the_context_window(
    llm_stub: LLMStub,
) -> None:
    llm_stub.reply("Arrival.", model="llama3.1")
    base = llm_stub.api_base.removesuffix("/v1")  # Ollama's base has no /v1
    settings = ModelSettings(model="ollama/llama3.1", api_base=base, context_window=16384)

    result = await client_for(settings).create(ASK)

    assert str(result.content).strip() == "Arrival."
    request = llm_stub.requests[-1]
    assert request.path == "/api/chat"
    assert request.body["options"]["num_ctx"] == 16384
    assert "authorization" not in request.headers or "no-key" in request.headers["authorization"]
