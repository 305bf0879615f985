"""One structured LLM call for a role: render its prompt file, ask for JSON matching the role's
output model, validate, repair once, and record tokens and cost on the step. Any failure raises
RoleModelError, and the role falls back to the offline policy (agents/base.py), so a bad model
answer never crashes a turn."""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any, TypeVar

import yaml
from autogen_core.models import (
    AssistantMessage,
    ChatCompletionClient,
    LLMMessage,
    SystemMessage,
    UserMessage,
)
from jinja2 import Environment, StrictUndefined
from pydantic import BaseModel, ValidationError

from recteam.agents.tracer import StepTrace

__all__ = ["RoleModelError", "prompt_data", "render_prompt", "structured_call"]

T = TypeVar("T", bound=BaseModel)
_ENV = Environment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)


def _tojson(value: Any, indent: int | None = None) -> str:
    # "<" escaped: a message containing "</data>" cannot close the data block it is quoted in.
    return json.dumps(value, indent=indent, ensure_ascii=False, default=str).replace("<", "\\u003c")


_ENV.filters["tojson"] = _tojson
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
    data = yaml.safe_load(text)
    if not isinstance(data, dict) or not {"system", "user"} <= set(data):
        raise ValueError(f"prompts/{role}.yaml must define 'system' and 'user'")
    return data


def render_prompt(role: str, **variables: Any) -> tuple[str, str]:
    """(system, user) for `role`; a variable the template uses but the caller did not pass fails."""
    spec = _prompt(role)
    return _ENV.from_string(spec["system"]).render(**variables), _ENV.from_string(
        spec["user"]
    ).render(**variables)


def _parse(content: Any, output: type[T]) -> T:
    if not isinstance(content, str):
        raise RoleModelError(f"expected JSON text, got {type(content).__name__}")
    return output.model_validate_json(_FENCE.sub("", content.strip()))


async def structured_call(
    client: ChatCompletionClient, step: StepTrace, role: str, output: type[T], **variables: Any
) -> T:
    system, user = render_prompt(role, schema=json.dumps(output.model_json_schema()), **variables)
    messages: list[LLMMessage] = [
        SystemMessage(content=system),
        UserMessage(content=user, source="user"),
    ]
    for attempt in range(2):
        try:
            # JSON mode plus the schema in the prompt: strict json_schema rejects optional fields on
            # several providers, and every role validates (and repairs) the answer itself anyway.
            result = await client.create(messages, json_output=True)
        except Exception as exc:  # every client failure means the same here: use the fallback
            raise RoleModelError(f"{type(exc).__name__}: {str(exc)[:200]}") from exc
        # The adapter's own record of this call (model actually used, cost); absent on others.
        last = getattr(result, "call", None)
        step.usage(
            result.usage.prompt_tokens,
            result.usage.completion_tokens,
            float(getattr(last, "cost", 0.0) or 0.0),
            str(getattr(last, "model", None) or step.model),
        )
        try:
            return _parse(result.content, output)
        except (ValidationError, ValueError, RoleModelError) as exc:
            problem = str(exc).splitlines()[0][:300]
            if attempt == 1:
                raise RoleModelError(f"invalid output after a repair attempt: {problem}") from exc
            step.notice(
                "repair", f"output did not match {output.__name__} ({problem}); asking once more"
            )
            messages += [
                AssistantMessage(content=str(result.content), source=role),
                UserMessage(
                    content=f"That was not valid: {problem}. Reply with one JSON object matching the schema, nothing else.",
                    source="user",
                ),
            ]
    raise AssertionError("unreachable")
