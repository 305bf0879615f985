"""The six roles of the team, by name."""

from __future__ import annotations

from recteam.agents.base import RoleSpec
from recteam.agents.item_analyst import ITEM_ANALYST
from recteam.agents.manager import MANAGER
from recteam.agents.messages import Role
from recteam.agents.reflector import REFLECTOR
from recteam.agents.responder import RESPONDER
from recteam.agents.searcher import SEARCHER
from recteam.agents.user_analyst import USER_ANALYST

__all__ = ["ROLE_SPECS"]

ROLE_SPECS: dict[Role, RoleSpec] = {
    spec.role: spec
    for spec in (MANAGER, USER_ANALYST, SEARCHER, ITEM_ANALYST, REFLECTOR, RESPONDER)
}
