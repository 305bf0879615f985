"""The team as an AutoGen GraphFlow, built fresh for each turn around that turn's context.

Why GraphFlow: the turn is a fixed graph with two decisions in it (the manager's act and the
reflector's verdict), which conditional edges express directly; routing in code keeps the team
deterministic and costs no model call, and GraphFlow runs the manager and the user analyst
concurrently because neither depends on the other. A role asks its model at most once per turn
(agents/base.py), so a revise round runs search and code only: a recommendation makes one call
per LLM role (a repair aside), five by default, four of them on the critical path.

    manager ─┬─(RECOMMEND)─► searcher ─► item_analyst ─► reflector ─(APPROVE)─► responder
             │                  ▲                            │
    user_analyst ───────────────┤                            └─(REVISE)─► searcher
             └──(ASK/ANSWER/CHAT, with user_analyst done)─────────────────► responder
"""

from __future__ import annotations

from autogen_agentchat.messages import BaseChatMessage, StructuredMessage
from autogen_agentchat.teams import DiGraphBuilder, GraphFlow
from autogen_core.models import ChatCompletionClient

from recteam.agents.base import RoleAgent
from recteam.agents.context import TurnContext
from recteam.agents.messages import (
    ROLES,
    CandidateBus,
    Critique,
    ItemAnalyses,
    Plan,
    PreferenceProfile,
    Reply,
    Role,
)
from recteam.agents.roles import ROLE_SPECS

__all__ = ["RoleClients", "build_team"]

_MESSAGE_TYPES = (
    StructuredMessage[Plan],
    StructuredMessage[PreferenceProfile],
    StructuredMessage[CandidateBus],
    StructuredMessage[ItemAnalyses],
    StructuredMessage[Critique],
    StructuredMessage[Reply],
)

RoleClients = dict[Role, tuple[ChatCompletionClient | None, str]]


def _recommends(message: BaseChatMessage) -> bool:
    return (
        isinstance(message, StructuredMessage)
        and isinstance(message.content, Plan)
        and message.content.act == "RECOMMEND"
    )


def _answers_directly(message: BaseChatMessage) -> bool:
    return (
        isinstance(message, StructuredMessage)
        and isinstance(message.content, Plan)
        and message.content.act != "RECOMMEND"
    )


def _verdict(verdict: str):
    def check(message: BaseChatMessage) -> bool:
        content = getattr(message, "content", None)
        return isinstance(content, Critique) and content.verdict == verdict

    return check


def build_team(ctx: TurnContext, clients: RoleClients) -> GraphFlow:
    agents = {
        role: RoleAgent(ROLE_SPECS[role], ctx, *clients.get(role, (None, "offline")))
        for role in ROLES
    }
    b = DiGraphBuilder()
    for agent in agents.values():
        b.add_node(agent)
    manager, analyst = agents["manager"], agents["user_analyst"]
    searcher, items, reflector, responder = (
        agents["searcher"],
        agents["item_analyst"],
        agents["reflector"],
        agents["responder"],
    )
    # The searcher starts when the plan says RECOMMEND and the profile is updated ...
    b.add_edge(manager, searcher, condition=_recommends, activation_group="planned")
    b.add_edge(analyst, searcher, activation_group="planned")
    # ... or again when the reflector sends the draft back.
    b.add_edge(
        reflector,
        searcher,
        condition=_verdict("REVISE"),
        activation_group="revise",
        activation_condition="any",
    )
    b.add_edge(searcher, items)
    b.add_edge(items, reflector)
    # The responder answers directly for ASK / ANSWER / CHAT, or after the reflector approves.
    b.add_edge(manager, responder, condition=_answers_directly, activation_group="direct")
    b.add_edge(analyst, responder, activation_group="direct")
    b.add_edge(
        reflector,
        responder,
        condition=_verdict("APPROVE"),
        activation_group="approved",
        activation_condition="any",
    )
    return GraphFlow(
        participants=list(agents.values()),
        graph=b.build(),
        # Every speaker counts as a turn: the six roles once, then three per revise round.
        max_turns=6 + 3 * ctx.settings.max_revise_rounds + 2,
        custom_message_types=list(_MESSAGE_TYPES),
    )
