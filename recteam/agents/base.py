"""A role as an AutoGen agent: RoleAgent runs one role's step (its LLM implementation when a model
is configured, else the offline policy), traces it, and answers with the role's typed payload as
a StructuredMessage, which the team graph routes on.

The call budget: a role asks its model at most once per turn. A role that runs again in the same
turn (the searcher, item analyst and reflector on a revise round) takes its offline step, which
builds on what the model already said this turn (the item analyst keeps the model's judgements,
the searcher its query). So a recommendation costs one call per LLM role however many revise
rounds it takes: five in all, four on the critical path (the manager and the user analyst run
concurrently), and a revise round adds search and code, not model latency."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from autogen_agentchat.agents import BaseChatAgent
from autogen_agentchat.base import Response
from autogen_agentchat.messages import BaseChatMessage, StructuredMessage
from autogen_core import CancellationToken
from autogen_core.models import ChatCompletionClient
from pydantic import BaseModel

from recteam.agents.context import TurnContext
from recteam.agents.llm import RoleModelError
from recteam.agents.messages import Role
from recteam.agents.tracer import StepTrace, current_step

__all__ = ["RoleAgent", "RoleSpec"]

OfflineStep = Callable[[TurnContext, StepTrace], Awaitable[BaseModel]]
LLMStep = Callable[[TurnContext, StepTrace, ChatCompletionClient], Awaitable[BaseModel]]


@dataclass(frozen=True)
class RoleSpec:
    role: Role
    description: str
    title: Callable[[TurnContext], str]
    offline: OfflineStep
    llm: LLMStep | None = None  # None: the role never needs a model


class RoleAgent(BaseChatAgent):
    def __init__(
        self, spec: RoleSpec, ctx: TurnContext, client: ChatCompletionClient | None, model: str
    ) -> None:
        super().__init__(spec.role, spec.description)
        self.spec = spec
        self.ctx = ctx
        self.client = client
        self.model = model if client is not None and spec.llm is not None else "offline"

    @property
    def produced_message_types(self) -> Sequence[type[BaseChatMessage]]:
        return (StructuredMessage,)

    async def on_messages(
        self, messages: Sequence[BaseChatMessage], cancellation_token: CancellationToken
    ) -> Response:
        again = self.spec.role in self.ctx.asked_model
        model = "offline" if again else self.model
        step = self.ctx.tracer.step(self.spec.role, self.spec.title(self.ctx), model)
        token = current_step.set(step)
        try:
            payload = await self._run(step, again)
        except BaseException:
            step.finish("failed")
            raise
        finally:
            current_step.reset(token)
        step.output(payload)
        step.finish()
        message: StructuredMessage[BaseModel] = StructuredMessage(content=payload, source=self.name)
        return Response(chat_message=message)

    async def _run(self, step: StepTrace, again: bool) -> BaseModel:
        if self.client is None or self.spec.llm is None:
            return await self.spec.offline(self.ctx, step)
        if again:
            step.thought(
                f"{self.model} was asked once this turn already; "
                "this round builds on its answer in code"
            )
            return await self.spec.offline(self.ctx, step)
        try:
            payload = await self.spec.llm(self.ctx, step, self.client)
        except RoleModelError as exc:
            # A model that failed is not asked again this turn either: the fallback stands.
            self.ctx.asked_model.add(self.spec.role)
            self.ctx.fell_back.append(self.spec.role)
            step.model = "offline"  # who finally answered this step
            step.notice(
                "offline_fallback",
                f"{self.model} gave no usable answer ({exc}); the offline policy took this step",
            )
            return await self.spec.offline(self.ctx, step)
        if step.llm_calls:  # a step that decided in code (the reflector on a broken rule) did not
            self.ctx.asked_model.add(self.spec.role)
        return payload

    async def on_reset(self, cancellation_token: CancellationToken) -> None:
        """A RoleAgent lives for one turn; there is nothing to reset."""
