"""The one seam to LLM services: the only module that imports litellm.

Chat: LiteLLMChatCompletionClient adapts litellm.acompletion to autogen_core's ChatCompletionClient,
adding retries, fallback models, per-call cost and events the team's trace shows; build_chat_client
makes one from settings. Embeddings: LiteLLMEmbedder and build_embedder.

litellm is imported inside functions: importing it takes seconds, and the offline policy and the
bundled embedder never need it.
"""

from __future__ import annotations

import asyncio
import contextvars
import difflib
import json
import os
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

import numpy as np

# Set before litellm is first imported, which otherwise fetches a price table over the network.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from autogen_core import CancellationToken, FunctionCall
from autogen_core.models import (
    AssistantMessage,
    ChatCompletionClient,
    CreateResult,
    FinishReasons,
    FunctionExecutionResultMessage,
    LLMMessage,
    ModelCapabilities,
    ModelInfo,
    RequestUsage,
    SystemMessage,
    UserMessage,
)
from autogen_core.tools import Tool, ToolSchema
from pydantic import BaseModel, Field

from recteam.errors import ConfigError, ModelUnavailableError, RecteamError
from recteam.memory.embeddings import Embedder, load_local_embedder
from recteam.memory.settings import EmbeddingSettings
from recteam.orchestration.llm_settings import Endpoint, ModelSettings, provider_of

if TYPE_CHECKING:
    from litellm import ModelResponse

__all__ = [
    "LITELLM_EMBEDDING_PREFIX",
    "LiteLLMChatCompletionClient",
    "LiteLLMCreateResult",
    "LiteLLMEmbedder",
    "ModelCall",
    "ModelEvent",
    "OnModelEvent",
    "build_chat_client",
    "build_embedder",
    "check_endpoint",
    "turn_deadline",
]

LITELLM_EMBEDDING_PREFIX = "litellm/"
MAX_BACKOFF = 30.0
# Seconds a call keeps in hand before the turn's deadline, so the offline policy can still answer.
DEADLINE_RESERVE = 2.0
NO_KEY = "no-key"  # sent to a custom server configured without a key: never the provider's own key

# The monotonic time by which this turn's model calls must be done (None: no limit). Set by the
# session for each turn, so a hung model leaves time for the offline fallback.
turn_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "turn_deadline", default=None
)
# Endpoints that failed recently: (model, api_base) -> (monotonic time they may be tried again,
# why). Shared by every client in the process, so one dead server costs one role's attempts, not
# every role's on every turn.
_COOLING: dict[tuple[str, str | None], tuple[float, str]] = {}

_T = TypeVar("_T")


class ModelEvent(BaseModel):
    """A failed attempt at a model, for the team's trace.

    kind: "retry" (the same model is tried again), "fallback" (the next model is tried),
    "cooldown" (the model failed recently and is skipped for a while) or "error" (nothing is left
    to try; the call raises ModelUnavailableError with `error`).
    """

    kind: Literal["retry", "fallback", "error", "cooldown"]
    model: str = Field(description="The model that failed.")
    error: str = Field(description="Why, in a few words; for 'error', the whole sentence raised.")
    attempt: int = Field(description="Attempts made on this model so far.")
    next_model: str | None = Field(
        default=None, description="For 'fallback': the model tried next."
    )


OnModelEvent = Callable[[ModelEvent], None]


class ModelCall(BaseModel):
    """One answered request, as the trace reports it."""

    model: str = Field(description="The model that answered (a fallback, if the primary failed).")
    prompt_tokens: int
    completion_tokens: int
    cost: float = Field(description="US dollars; 0.0 when litellm has no price for the model.")
    latency: float = Field(
        description="Seconds from the request to the whole answer, retries included."
    )
    retries: int = Field(description="Failed attempts before the answer, over all models.")
    fallback_used: bool


class LiteLLMCreateResult(CreateResult):
    """autogen's CreateResult plus what the call cost."""

    call: ModelCall


@dataclass(frozen=True)
class _Failure:
    cause: str  # completes "The LLM <model> ...", e.g. "timed out after 60 s"
    advice: str  # the setting to change
    transient: bool  # worth another attempt at the same model


class LiteLLMChatCompletionClient(ChatCompletionClient):
    """Any litellm chat model as an autogen ChatCompletionClient.

    Transient failures (timeouts, 429, 5xx, refused connections) are retried with exponential
    backoff, then each of `settings.fallbacks` is tried in order; every retry, fallback and final
    failure goes to `on_event`. `settings_key` names these settings in error messages.
    """

    def __init__(
        self,
        settings: ModelSettings,
        *,
        api_key: str | None = None,
        on_event: OnModelEvent | None = None,
        settings_key: str = "llm",
    ) -> None:
        import litellm

        litellm.suppress_debug_info = True  # recteam's own errors say what to change
        self._settings = settings
        self._on_event = on_event
        self._key = settings_key
        self._endpoints = settings.endpoints()
        self._models = [e.model for e in self._endpoints]
        # the key of each endpoint, read once; `api_key` (tests, callers) is the primary's
        self._api_keys = [_read_key(e, settings_key) for e in self._endpoints]
        if api_key is not None:
            self._api_keys[0] = api_key
        self._total_usage = RequestUsage(prompt_tokens=0, completion_tokens=0)
        self.last_call: ModelCall | None = None

    async def create(
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Tool | ToolSchema] = [],
        tool_choice: Tool | Literal["auto", "required", "none"] = "auto",
        json_output: bool | type[BaseModel] | None = None,
        extra_create_args: Mapping[str, Any] = {},
        cancellation_token: CancellationToken | None = None,
    ) -> LiteLLMCreateResult:
        import litellm

        request = self._request(messages, tools, tool_choice, json_output, extra_create_args)
        started = time.perf_counter()

        async def send(args: dict[str, Any]) -> ModelResponse:
            return cast("ModelResponse", await litellm.acompletion(**(args | request)))

        response, model, failed = await _linked(self._with_fallbacks(send), cancellation_token)
        return self._record(response, model, failed, started)

    async def create_stream(
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Tool | ToolSchema] = [],
        tool_choice: Tool | Literal["auto", "required", "none"] = "auto",
        json_output: bool | type[BaseModel] | None = None,
        extra_create_args: Mapping[str, Any] = {},
        cancellation_token: CancellationToken | None = None,
    ) -> AsyncGenerator[str | CreateResult, None]:
        import litellm
        import openai

        request = self._request(messages, tools, tool_choice, json_output, extra_create_args)
        request |= {"stream": True, "stream_options": {"include_usage": True}}
        started = time.perf_counter()

        async def open_stream(args: dict[str, Any]) -> tuple[AsyncIterator[Any], Any]:
            stream = await litellm.acompletion(**(args | request))
            chunks = aiter(cast("AsyncIterator[Any]", stream))
            # The first chunk is read inside the attempt, so a server that accepts the request
            # and then stalls or fails still counts as a failed attempt and can be retried.
            return chunks, await anext(chunks, None)

        opened, model, failed = await _linked(self._with_fallbacks(open_stream), cancellation_token)
        chunks, chunk = opened
        received: list[Any] = []
        try:
            while chunk is not None:
                received.append(chunk)
                if chunk.choices and chunk.choices[0].delta.content:
                    yield chunk.choices[0].delta.content
                chunk = await _linked(anext(chunks, None), cancellation_token)
        except openai.OpenAIError as exc:
            # Text already went to the caller, so another attempt would repeat it: give up here.
            failure = self._diagnose(exc, self._models.index(model))
            message = f"The LLM {model} stopped mid-reply: it {failure.cause}; {failure.advice}."
            self._emit(ModelEvent(kind="error", model=model, error=message, attempt=1))
            raise ModelUnavailableError(message) from exc
        response = litellm.stream_chunk_builder(received, messages=request["messages"])
        yield self._record(cast("ModelResponse", response), model, failed, started)

    async def close(self) -> None:
        """Nothing to release: litellm owns its HTTP clients, shared across calls."""

    def actual_usage(self) -> RequestUsage:
        return self._total_usage  # no cache in front of litellm, so every call is an actual one

    def total_usage(self) -> RequestUsage:
        return self._total_usage

    def count_tokens(
        self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = []
    ) -> int:
        import litellm

        return litellm.token_counter(
            model=self._settings.model,
            messages=_to_openai_messages(messages),
            tools=cast(Any, _to_openai_tools(tools)) or None,
        )

    def remaining_tokens(
        self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = []
    ) -> int:
        return max(0, self._context_window - self.count_tokens(messages, tools=tools))

    @property
    def capabilities(self) -> ModelCapabilities:
        return ModelCapabilities(
            vision=self._settings.vision,
            function_calling=self._settings.function_calling,
            json_output=self._settings.json_output,
        )

    @property
    def model_info(self) -> ModelInfo:
        return ModelInfo(
            vision=self._settings.vision,
            function_calling=self._settings.function_calling,
            json_output=self._settings.json_output,
            family=self._settings.family,
            structured_output=self._settings.structured_output,
        )

    @cached_property
    def _context_window(self) -> int:
        import litellm

        # Only litellm's static table: get_model_info would ask an Ollama or vLLM server over HTTP.
        model = self._settings.model
        known = (
            litellm.model_cost.get(model) or litellm.model_cost.get(model.partition("/")[2]) or {}
        )
        return int(known.get("max_input_tokens") or self._settings.context_window)

    def _request(
        self,
        messages: Sequence[LLMMessage],
        tools: Sequence[Tool | ToolSchema],
        tool_choice: Tool | Literal["auto", "required", "none"],
        json_output: bool | type[BaseModel] | None,
        extra_create_args: Mapping[str, Any],
    ) -> dict[str, Any]:
        request: dict[str, Any] = {"messages": _to_openai_messages(messages)}
        if tools:
            request["tools"] = _to_openai_tools(tools)
            request["tool_choice"] = _to_openai_tool_choice(tool_choice)
        wants_schema = isinstance(json_output, type) and issubclass(json_output, BaseModel)
        if wants_schema and self._settings.structured_output:
            request["response_format"] = json_output  # litellm turns it into a strict JSON schema
        elif (wants_schema or json_output is True) and self._settings.json_output:
            # A model without schema support still gets JSON mode; the caller validates the result.
            request["response_format"] = {"type": "json_object"}
        request.update(extra_create_args)  # the caller's extras win, over the settings' too
        return request

    def _call_args(self, index: int, timeout: float) -> dict[str, Any]:
        settings, endpoint = self._settings, self._endpoints[index]
        model = endpoint.model
        args: dict[str, Any] = {
            "model": model,
            "temperature": settings.temperature,
            "timeout": timeout,
            # This client retries, so that it can report each attempt; litellm and the OpenAI SDK
            # would otherwise retry silently underneath it.
            "num_retries": 0,
            "max_retries": 0,
            # Parameters a model does not take (a reasoning model's temperature) are dropped by
            # litellm, which knows each model's parameters, instead of failing the call.
            "drop_params": True,
        }
        if settings.max_tokens is not None:
            args["max_tokens"] = settings.max_tokens
        if provider_of(model) == "ollama":
            # Ollama's chat endpoint, with the context window the entry declares (Ollama's own
            # default, 2,048 tokens, silently cuts a role's prompt).
            args["model"] = "ollama_chat/" + model.partition("/")[2]
            args["num_ctx"] = endpoint.context_window or settings.context_window
        if endpoint.api_base:
            args["api_base"] = endpoint.api_base
        key = self._api_keys[index]
        if key:
            args["api_key"] = key
        elif endpoint.api_base:
            args["api_key"] = NO_KEY
        return args

    async def _with_fallbacks(
        self, send: Callable[[dict[str, Any]], Awaitable[_T]]
    ) -> tuple[_T, str, int]:
        """`send`'s answer from the first model that gives one, that model, and the failed attempts
        before it; raises ModelUnavailableError when every attempt at every model failed."""
        import openai

        failures: list[tuple[str, _Failure, int]] = []
        failed = 0
        last_error: BaseException | None = None
        for index, model in enumerate(self._models):
            endpoint = self._endpoints[index]
            cooling = _cooling(endpoint)
            attempt = 0
            if cooling is not None:
                failure = _Failure(
                    f"failed {cooling[1]} and is skipped for {cooling[0]:.0f} s more",
                    f"check {self._key}.model and its server, or wait",
                    False,
                )
                self._emit(ModelEvent(kind="cooldown", model=model, error=failure.cause, attempt=0))
            else:
                for attempt in range(1, self._settings.retries + 2):
                    left = _time_left()
                    if left is not None and left < 1.0:
                        failure = _Failure(
                            "had no time left in this turn (team.turn_timeout)",
                            "raise team.turn_timeout or lower llm.timeout",
                            False,
                        )
                        break
                    timeout = (
                        self._settings.timeout
                        if left is None
                        else min(self._settings.timeout, left)
                    )
                    try:
                        return await send(self._call_args(index, timeout)), model, failed
                    except openai.OpenAIError as exc:  # litellm maps every provider's failures
                        failed += 1
                        last_error = exc
                        failure = self._diagnose(exc, index)
                    if not failure.transient or attempt > self._settings.retries:
                        _cool_down(endpoint, failure, self._settings.cooldown)
                        break
                    self._emit(
                        ModelEvent(kind="retry", model=model, error=failure.cause, attempt=attempt)
                    )
                    wait = _retry_after(last_error)
                    if wait is None:
                        wait = min(self._settings.backoff * 2 ** (attempt - 1), MAX_BACKOFF)
                    left = _time_left()
                    await asyncio.sleep(wait if left is None else max(0.0, min(wait, left - 1.0)))
            failures.append((model, failure, max(attempt, 1)))
            if index + 1 < len(self._models):
                next_model = self._models[index + 1]
                event = ModelEvent(
                    kind="fallback",
                    model=model,
                    error=failure.cause,
                    attempt=attempt,
                    next_model=next_model,
                )
                self._emit(event)
        message = _unavailable_message(failures)
        self._emit(
            ModelEvent(kind="error", model=failures[-1][0], error=message, attempt=failures[-1][2])
        )
        raise ModelUnavailableError(message) from last_error

    def _diagnose(self, exc: Exception, index: int) -> _Failure:
        import litellm

        settings, key = self._settings, self._key
        endpoint = self._endpoints[index]
        where = endpoint.api_base or "its provider's default address"
        retry_advice = f"raise {key}.retries or add {key}.fallbacks"
        if isinstance(exc, litellm.Timeout):
            return _Failure(f"timed out after {settings.timeout:g} s", f"raise {key}.timeout", True)
        if isinstance(exc, litellm.RateLimitError):
            return _Failure("was rate limited (HTTP 429)", retry_advice, True)
        if isinstance(exc, litellm.AuthenticationError | litellm.PermissionDeniedError):
            if endpoint.api_key_env:
                return _Failure(
                    "rejected the API key", f"check the key in ${endpoint.api_key_env}", False
                )
            return _Failure(
                "rejected the API key", f"set {key}.api_key_env to the variable holding it", False
            )
        # A refused connection is an APIConnectionError for some providers but a 500 saying
        # "Connection error." or "Cannot connect to host" for OpenAI-compatible ones.
        text = str(exc).lower()
        if (
            isinstance(exc, litellm.APIConnectionError)
            or "connection error" in text
            or "cannot connect" in text
        ):
            return _Failure(
                f"could not reach {where}", f"check {key}.api_base and that the server runs", True
            )
        if isinstance(exc, litellm.NotFoundError):
            return _Failure(
                f"is not served at {where}", f"check {key}.model and {key}.api_base", False
            )
        status = getattr(exc, "status_code", None)
        if isinstance(status, int) and status >= 500:
            return _Failure(f"failed with a server error (HTTP {status})", retry_advice, True)
        detail = (str(exc).strip().splitlines() or [""])[0][:160]
        return _Failure(f"failed ({type(exc).__name__}: {detail})", f"check {key}.model", False)

    def _emit(self, event: ModelEvent) -> None:
        if self._on_event is not None:
            self._on_event(event)

    def _record(
        self, response: ModelResponse, model: str, failed: int, started: float
    ) -> LiteLLMCreateResult:
        usage = getattr(response, "usage", None)
        prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
        completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
        self._total_usage = RequestUsage(
            prompt_tokens=self._total_usage.prompt_tokens + prompt_tokens,
            completion_tokens=self._total_usage.completion_tokens + completion_tokens,
        )
        self.last_call = ModelCall(
            model=model,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost=_cost(response, model),
            latency=time.perf_counter() - started,
            retries=failed,
            fallback_used=model != self._settings.model,
        )
        content, thought, finish_reason = _read_choice(response)
        return LiteLLMCreateResult(
            finish_reason=finish_reason,
            content=content,
            usage=RequestUsage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens),
            cached=False,
            thought=thought,
            call=self.last_call,
        )


def build_chat_client(
    settings: ModelSettings, on_event: OnModelEvent | None = None, *, settings_key: str = "llm"
) -> LiteLLMChatCompletionClient | None:
    """The chat client `settings` describe, or None for the offline policy. Every endpoint (the
    model and its fallbacks) is checked first: an unknown provider or a missing key is a
    ConfigError naming the setting, not a failed call on every turn."""
    if settings.offline:
        return None
    for endpoint in settings.endpoints():
        check_endpoint(endpoint, settings_key)
    return LiteLLMChatCompletionClient(settings, on_event=on_event, settings_key=settings_key)


async def _linked(awaitable: Awaitable[_T], token: CancellationToken | None) -> _T:
    """Awaits `awaitable` as a task `token` can cancel: autogen stops a run through its token."""
    task = asyncio.ensure_future(awaitable)
    if token is not None:
        token.link_future(task)
    return await task


def _read_key(endpoint: Endpoint, settings_key: str) -> str | None:
    if not endpoint.api_key_env:
        return None
    key = os.environ.get(endpoint.api_key_env)
    if not key:
        raise ConfigError(
            f"{settings_key}.api_key_env names {endpoint.api_key_env}, but that environment "
            f"variable is not set (it holds the key for {endpoint.label})"
        )
    return key


def check_endpoint(endpoint: Endpoint, settings_key: str = "llm") -> None:
    """Raises ConfigError, naming the setting to fix, when `endpoint` cannot work whatever the
    server says: a provider litellm does not know, or a key that is needed and not set."""
    import litellm

    litellm.suppress_debug_info = True  # else it prints a provider list on an unknown provider
    model = endpoint.model
    try:
        _, provider, _, _ = litellm.get_llm_provider(model=model, api_base=endpoint.api_base)
    except Exception:
        prefix = provider_of(model)
        names = [str(getattr(p, "value", p)) for p in litellm.provider_list]
        close = difflib.get_close_matches(prefix, names, n=1)
        hint = f" (did you mean '{close[0]}/{model.partition('/')[2]}'?)" if close else ""
        raise ConfigError(
            f"{settings_key}.model: litellm knows no provider for {model!r}{hint}; write "
            "'<provider>/<model>', e.g. 'openai/gpt-4o-mini' or 'ollama/llama3.1'"
        ) from None
    _read_key(endpoint, settings_key)
    if endpoint.api_key_env or endpoint.api_base:
        return  # a named key was found above; a custom server gets only the key named for it
    try:
        env = litellm.validate_environment(model=model)
    except Exception:
        return  # litellm cannot tell for this provider: the first call will
    missing = [k for k in env.get("missing_keys") or [] if k]
    if missing and provider not in ("ollama", "ollama_chat", "hosted_vllm", "lm_studio"):
        raise ConfigError(
            f"{settings_key}.model {model!r} needs {', '.join(missing)} in the environment, and it "
            f"is not set (or name the variable holding the key in {settings_key}.api_key_env)"
        )


def _time_left() -> float | None:
    deadline = turn_deadline.get()
    return None if deadline is None else deadline - time.monotonic() - DEADLINE_RESERVE


def _cooling(endpoint: Endpoint) -> tuple[float, str] | None:
    """(seconds left, why) while `endpoint` cools down after a failure; None when it may be tried."""
    entry = _COOLING.get((endpoint.model, endpoint.api_base))
    if entry is None:
        return None
    left = entry[0] - time.monotonic()
    if left <= 0:
        _COOLING.pop((endpoint.model, endpoint.api_base), None)
        return None
    return left, entry[1]


def _cool_down(endpoint: Endpoint, failure: _Failure, seconds: float) -> None:
    if seconds > 0:
        stamp = time.strftime("%H:%M:%S")
        _COOLING[(endpoint.model, endpoint.api_base)] = (
            time.monotonic() + seconds,
            f"at {stamp} ({failure.cause})",
        )


def _retry_after(exc: BaseException | None) -> float | None:
    """Seconds a rate-limited server asked us to wait (its Retry-After header), if it said."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    value = headers.get("retry-after") or headers.get("Retry-After")
    try:
        return max(0.0, min(float(value), MAX_BACKOFF)) if value is not None else None
    except (TypeError, ValueError):
        return None


def _unavailable_message(failures: list[tuple[str, _Failure, int]]) -> str:
    def tried(model: str, failure: _Failure, attempts: int) -> str:
        times = f" ({attempts} attempts)" if attempts > 1 else ""
        return f"{model} {failure.cause}{times}"

    (model, first, attempts), *rest = failures
    fallbacks = "".join(f", and fallback {tried(*failed)}" for failed in rest)
    return f"The LLM {tried(model, first, attempts)}{fallbacks}; {first.advice}."


def _cost(response: ModelResponse, model: str) -> float:
    # litellm prices each response as it returns it (None: a model it has no price for); asking
    # completion_cost again costs 1-2 ms of CPU a call, most of it for unpriced models, which
    # raise. Only a response without that stamp is priced here.
    hidden = getattr(response, "_hidden_params", None) or {}
    if "response_cost" in hidden:
        stamped = hidden["response_cost"]
        return float(stamped) if isinstance(stamped, (int, float)) and stamped >= 0 else 0.0
    import litellm

    try:
        return float(litellm.completion_cost(completion_response=response, model=model))
    except Exception:
        return 0.0  # unpriced models (most local ones) raise; a cost never fails a call


_FINISH_REASONS: dict[str, FinishReasons] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "function_calls",
    "function_call": "function_calls",
    "content_filter": "content_filter",
}


def _read_choice(
    response: ModelResponse,
) -> tuple[str | list[FunctionCall], str | None, FinishReasons]:
    choice = cast(Any, response.choices[0])
    message = choice.message
    thought = getattr(message, "reasoning_content", None) or None
    if message.tool_calls:
        calls = [
            FunctionCall(
                id=call.id or "",
                name=call.function.name,
                arguments=call.function.arguments
                if isinstance(call.function.arguments, str)
                else json.dumps(call.function.arguments),
            )
            for call in message.tool_calls
        ]
        # Text a model writes next to its tool calls is its reasoning, as autogen expects it.
        return calls, message.content or thought, "function_calls"
    return (
        message.content or "",
        thought,
        _FINISH_REASONS.get(choice.finish_reason or "", "unknown"),
    )


def _to_openai_messages(messages: Sequence[LLMMessage]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for message in messages:
        if isinstance(message, SystemMessage):
            out.append({"role": "system", "content": message.content})
        elif isinstance(message, UserMessage):
            content = message.content
            if not isinstance(content, str):
                parts = [
                    {"type": "text", "text": p} if isinstance(p, str) else p.to_openai_format()
                    for p in content
                ]
                out.append({"role": "user", "content": parts})
            else:
                out.append({"role": "user", "content": content})
        elif isinstance(message, AssistantMessage):
            if isinstance(message.content, str):
                out.append({"role": "assistant", "content": message.content})
            else:
                calls = [
                    {
                        "id": c.id,
                        "type": "function",
                        "function": {"name": c.name, "arguments": c.arguments},
                    }
                    for c in message.content
                ]
                out.append({"role": "assistant", "content": message.thought, "tool_calls": calls})
        elif isinstance(message, FunctionExecutionResultMessage):
            out.extend(
                {"role": "tool", "tool_call_id": r.call_id, "content": r.content}
                for r in message.content
            )
    return out


def _to_openai_tools(tools: Sequence[Tool | ToolSchema]) -> list[dict[str, Any]]:
    out = []
    for tool in tools:
        schema: ToolSchema = tool.schema if isinstance(tool, Tool) else tool
        function: dict[str, Any] = {
            "name": schema["name"],
            "parameters": schema.get("parameters", {"type": "object", "properties": {}}),
        }
        if "description" in schema:
            function["description"] = schema["description"]
        if schema.get("strict"):
            function["strict"] = True
        out.append({"type": "function", "function": function})
    return out


def _to_openai_tool_choice(
    choice: Tool | Literal["auto", "required", "none"],
) -> str | dict[str, Any]:
    if isinstance(choice, str):
        return choice
    return {"type": "function", "function": {"name": choice.schema["name"]}}


class LiteLLMEmbedder:
    """Any litellm embedding model (OpenAI, Ollama, a litellm proxy, ...), L2-normalised."""

    def __init__(self, settings: EmbeddingSettings) -> None:
        if not settings.dimensions:
            raise ConfigError(
                f"embedding.dimensions: required for {settings.model!r} (the vector size the model returns)"
            )
        self.model = settings.model.removeprefix(LITELLM_EMBEDDING_PREFIX)
        self.name = f"litellm:{self.model}"
        self.dim = settings.dimensions
        self.api_base = settings.api_base
        self.api_key = os.environ.get(settings.api_key_env) if settings.api_key_env else None
        if settings.api_key_env and not self.api_key:
            raise ConfigError(
                f"embedding.api_key_env names {settings.api_key_env}, but that environment variable is not set"
            )
        self.batch_size = settings.batch_size

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        import litellm

        rows: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            try:
                response = litellm.embedding(
                    model=self.model, input=batch, api_base=self.api_base, api_key=self.api_key
                )
            except Exception as exc:  # litellm maps every provider's failure to its own types
                raise RecteamError(
                    f"embedding model {self.model!r} failed ({type(exc).__name__}: {str(exc)[:160]}); "
                    "check embedding.model, embedding.api_base and embedding.api_key_env"
                ) from exc
            rows.extend(item["embedding"] for item in response.data)
        out = np.asarray(rows, dtype=np.float32).reshape(len(texts), -1)
        if out.shape[1] != self.dim:
            raise ConfigError(
                f"embedding.dimensions is {self.dim} but {self.model!r} returned vectors of size {out.shape[1]}"
            )
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)


def build_embedder(settings: EmbeddingSettings) -> Embedder:
    if settings.model.startswith(LITELLM_EMBEDDING_PREFIX):
        return LiteLLMEmbedder(settings)
    return load_local_embedder(settings)


class EndpointCheck(BaseModel):
    """One row of `recteam models check`."""

    setting: str = Field(
        description="Where the endpoint is configured, e.g. 'llm.agents.responder'."
    )
    model: str
    endpoint: str = Field(description="The server called: its api_base, or the provider's own.")
    ok: bool
    detail: str = Field(description="'ok', or the exact reason it fails and the setting to fix.")
    latency: float | None = Field(default=None, description="Seconds for the probe call.")


async def probe_endpoint(
    settings: ModelSettings, setting: str, timeout: float = 20.0
) -> EndpointCheck:
    """One tiny call ("Reply with OK", a few tokens) at `settings`' own endpoint, no retries and no
    fallbacks: does this model answer, with this key, at this server?"""
    endpoint = settings.endpoint
    where = endpoint.api_base or "provider default"
    row: dict[str, Any] = {"setting": setting, "model": endpoint.model, "endpoint": where}
    try:
        check_endpoint(endpoint, setting)
    except ConfigError as exc:
        return EndpointCheck(**row, ok=False, detail=str(exc))
    probe = settings.model_copy(
        update={"retries": 0, "fallbacks": [], "cooldown": 0, "timeout": timeout, "max_tokens": 5}
    )
    client = LiteLLMChatCompletionClient(probe, settings_key=setting)
    started = time.perf_counter()
    try:
        await client.create([UserMessage(content="Reply with OK.", source="check")])
    except ModelUnavailableError as exc:
        return EndpointCheck(
            **row, ok=False, detail=str(exc), latency=time.perf_counter() - started
        )
    return EndpointCheck(**row, ok=True, detail="ok", latency=time.perf_counter() - started)
