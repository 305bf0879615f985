"""One structured LLM call for a role: render its prompt file, ask for JSON matching the role's
output model, validate, repair once, and record tokens and cost on the step. Any failure raises
RoleModelError, and the role falls back to the offline policy (agents/base.py), so a bad model
answer never crashes a turn.

Nothing outside <data>: a system prompt is a fixed template that holds closed values only (the
output schema, the act, a count); everything a user, the catalog or a model wrote travels in the
user message, as JSON inside <data>...</data> with "<" escaped so it cannot close the block.
render_prompt refuses any other value in a system prompt."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any, TypeVar, get_args

from autogen_core.models import (
    AssistantMessage,
    ChatCompletionClient,
    LLMMessage,
    SystemMessage,
    UserMessage,
)
from pydantic import BaseModel, ValidationError

from recteam.agents.messages import Act
from recteam.agents.tracer import StepTrace

if TYPE_CHECKING:
    from jinja2 import Environment, Template

__all__ = ["RoleModelError", "prompt_data", "render_prompt", "structured_call"]

T = TypeVar("T", bound=BaseModel)


@cache  # jinja2 and yaml are imported when a prompt is first made: an offline turn makes none
def _env() -> Environment:
    from jinja2 import Environment, StrictUndefined

    env = Environment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
    # Templates quote data through this filter: compacted (no empty fields, no timestamps).
    env.filters["tojson"] = lambda value, indent=None: _tojson(compact(value), indent)
    return env


def _tojson(value: Any, indent: int | None = None) -> str:
    # "<" escaped: a message containing "</data>" cannot close the data block it is quoted in.
    return json.dumps(value, indent=indent, ensure_ascii=False, default=str).replace("<", "\\u003c")


_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.MULTILINE)


def prompt_data(user_message: str) -> dict[str, Any]:
    """The JSON a rendered user prompt quotes between <data> and </data> ({} when it quotes
    none): what a scripted model client reads instead of the prose around it."""
    text = user_message.strip()
    if not (text.startswith("<data>") and text.endswith("</data>")):
        return {}
    data = json.loads(text[len("<data>") : -len("</data>")])
    return data if isinstance(data, dict) else {}


class RoleModelError(Exception):
    """The role's model did not produce a usable answer; the message says why."""


@cache
def _prompt(role: str) -> dict[str, str]:
    text = resources.files("recteam.prompts").joinpath(f"{role}.yaml").read_text(encoding="utf-8")
    import yaml

    data = yaml.safe_load(text)
    if not isinstance(data, dict) or not {"system", "user"} <= set(data):
        raise ValueError(f"prompts/{role}.yaml must define 'system' and 'user'")
    return data


def _data(value: Any) -> str:
    return f"<data>\n{_tojson(value, indent=1)}\n</data>"


@cache
def _system_variables(role: str) -> frozenset[str]:
    from jinja2 import meta

    return frozenset(meta.find_undeclared_variables(_env().parse(_prompt(role)["system"])))


def _closed(name: str, value: Any) -> bool:
    """A value a system prompt may hold: the output schema (written in code), a number, an act."""
    if name == "schema" or (isinstance(value, int) and not isinstance(value, bool)):
        return True
    return isinstance(value, str) and value in get_args(Act)


@cache  # per output model: pydantic builds the JSON schema anew at each call (2 ms a prompt)
def schema_outline(output: type[BaseModel]) -> str:
    """The answer's shape as a small model reads it best: one line per field with its type and
    what it means, instead of the JSON schema (half the tokens, no $defs to follow)."""
    schema = output.model_json_schema()
    defs = schema.get("$defs", {})

    def kind(node: dict[str, Any]) -> str:
        if "$ref" in node:
            return (
                "{"
                + ", ".join(
                    f'"{k}": {kind(v)}' for k, v in _props(defs[node["$ref"].rsplit("/", 1)[-1]])
                )
                + "}"
            )
        if "enum" in node:
            return " | ".join(json.dumps(v) for v in node["enum"])
        if "const" in node:
            return json.dumps(node["const"])
        if "anyOf" in node:
            return " | ".join(kind(n) for n in node["anyOf"])
        if node.get("type") == "array":
            return "[" + kind(node.get("items", {})) + ", ...]"
        return str(node.get("type", "any"))

    lines = ["{"]
    for name, node in _props(schema):
        about = node.get("description", "")
        lines.append(f'  "{name}": {kind(node)},' + (f"  // {about}" if about else ""))
    lines.append("}")
    return "\n".join(lines)


def _props(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return list(schema.get("properties", {}).items())


# Timestamps, and poster URLs (for the user's browser; no film language, many tokens).
_NOISE_KEYS = frozenset({"updated_at", "created_at", "ts", "poster"})


def compact(value: Any) -> Any:
    """Data as a model needs it: no empty fields (None, "", [], {}), no timestamps and no poster
    URLs, which cost tokens and tell a small model nothing. False and 0 stay: they say something."""
    if isinstance(value, dict):
        out = {k: compact(v) for k, v in value.items() if k not in _NOISE_KEYS}
        return {k: v for k, v in out.items() if v not in (None, "", [], {})}
    if isinstance(value, list | tuple):
        return [compact(v) for v in value]
    return value


def render_prompt(role: str, **variables: Any) -> tuple[str, str]:
    """(system, user) for `role`; a variable the template uses but the caller did not pass fails,
    and so does an open value (any text) the system template would hold. The user part's data is
    compacted (no empty fields, no timestamps)."""
    for name in sorted(_system_variables(role)):
        if name in variables and not _closed(name, variables[name]):
            raise ValueError(
                f"prompts/{role}.yaml: {name!r} is not a closed value; pass it inside <data>"
            )
    system, user = _templates(role)
    return system.render(**variables), user.render(**variables)


@cache  # compiling a template is most of rendering one (a few ms a prompt); the files are fixed
def _templates(role: str) -> tuple[Template, Template]:
    spec = _prompt(role)
    return _env().from_string(spec["system"]), _env().from_string(spec["user"])


def _as_dict(message: LLMMessage) -> dict[str, str]:
    role = {"SystemMessage": "system", "UserMessage": "user"}.get(
        type(message).__name__, "assistant"
    )
    return {"role": role, "content": str(getattr(message, "content", ""))}


def _parse(content: Any, output: type[T]) -> T:
    if not isinstance(content, str):
        raise RoleModelError(f"expected JSON text, got {type(content).__name__}")
    return output.model_validate_json(_FENCE.sub("", content.strip()))


def _problem(exc: Exception) -> str:
    """What was wrong, for the model to fix: the fields and what each should be."""
    if isinstance(exc, ValidationError):
        errors = exc.errors()[:3]
        return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'answer'}: {e['msg']}" for e in errors)
    return str(exc).splitlines()[0]


class _FieldStream:
    """The growing value of one string field ("text") in JSON a model is still writing: each
    new piece of it, decoded, as soon as it arrives."""

    def __init__(self, name: str, sink: Callable[[str], None]) -> None:
        self._start = re.compile(rf'"{re.escape(name)}"\s*:\s*"')
        self._sink = sink
        self._buffer = ""
        self._sent = 0
        self._done = False

    def feed(self, chunk: str) -> None:
        if self._done:
            return
        self._buffer += chunk
        m = self._start.search(self._buffer)
        if m is None:
            return
        raw, k, closed = [], m.end(), False
        while k < len(self._buffer):
            ch = self._buffer[k]
            if ch == "\\":
                if k + 1 >= len(self._buffer):
                    break  # an escape cut in two: wait for the rest
                raw.append(self._buffer[k : k + 2])
                k += 2
                continue
            if ch == '"':
                closed = True
                break
            raw.append(ch)
            k += 1
        try:
            text = json.loads('"' + "".join(raw) + '"')
        except ValueError:
            return  # a \u escape still arriving
        if len(text) > self._sent:
            self._sink(text[self._sent :])
            self._sent = len(text)
        self._done = closed


async def _streamed(
    client: ChatCompletionClient, messages: list[LLMMessage], stream: _FieldStream
) -> Any:
    result = None
    async for piece in client.create_stream(messages, json_output=True):
        if isinstance(piece, str):
            stream.feed(piece)
        else:
            result = piece
    if result is None:
        raise RoleModelError("the stream ended without a result")
    return result


async def structured_call(
    client: ChatCompletionClient,
    step: StepTrace,
    role: str,
    output: type[T],
    check: Callable[[T], str | None] | None = None,
    stream_text: Callable[[str], None] | None = None,
    **variables: Any,
) -> T:
    """`check` judges a valid answer beyond its schema: a problem (told to the model in the one
    repair request) or None. `stream_text` gets the answer's "text" field piece by piece while
    the model writes its first answer (the repair, if any, is not streamed)."""
    system, user = render_prompt(role, schema=schema_outline(output), **variables)
    messages: list[LLMMessage] = [
        SystemMessage(content=system),
        UserMessage(content=user, source="user"),
    ]
    for attempt in range(2):
        started = time.perf_counter()
        try:
            # JSON mode plus the schema in the prompt: strict json_schema rejects optional fields on
            # several providers, and every role validates (and repairs) the answer itself anyway.
            if stream_text is not None and attempt == 0:
                result = await _streamed(client, messages, _FieldStream("text", stream_text))
            else:
                result = await client.create(messages, json_output=True)
        except Exception as exc:  # every client failure means the same here: use the fallback
            raise RoleModelError(f"{type(exc).__name__}: {str(exc)[:200]}") from exc
        # The adapter's own record of this call (model actually used, cost); absent on others.
        last = getattr(result, "call", None)
        model = str(getattr(last, "model", None) or step.model)
        cost = float(getattr(last, "cost", 0.0) or 0.0)
        step.usage(result.usage.prompt_tokens, result.usage.completion_tokens, cost, model)
        step.model_called(
            model=model,
            messages=[_as_dict(m) for m in messages],
            reply=str(result.content),
            reasoning=getattr(result, "thought", None),
            prompt_tokens=result.usage.prompt_tokens,
            completion_tokens=result.usage.completion_tokens,
            cost=cost,
            latency_ms=(time.perf_counter() - started) * 1000,
            failed_attempts=int(getattr(last, "retries", 0) or 0),
        )
        answer: T | None
        problem: str | None
        try:
            answer = _parse(result.content, output)
        except (ValidationError, ValueError, RoleModelError) as exc:
            answer = None
            problem = f"output did not match {output.__name__}: {_problem(exc)[:300]}"
        else:
            problem = check(answer) if check is not None else None
        if answer is not None and problem is None:
            return answer
        if attempt == 1:
            raise RoleModelError(f"invalid output after a repair attempt: {problem}")
        step.notice("repair", f"{problem}; asking once more")
        messages += [
            AssistantMessage(content=str(result.content), source=role),
            # The problem quotes the model's own output: data, like every other variable text.
            UserMessage(
                content="That answer was not usable; the problem is quoted below, as data. "
                "Reply with one JSON object matching the schema, nothing else.\n"
                + _data({"problem": problem}),
                source="user",
            ),
        ]
    raise AssertionError("unreachable")
