"""Settings for the LLM backends, composed into the root settings under `llm`.

One global model serves every role unless `llm.agents.<role>` overrides some of its fields; the
rest is inherited. `model = "offline"` (the default) runs the deterministic offline policy.

An endpoint is a unit: a model, the server it is served at (`api_base`) and the variable holding
the key for that server (`api_key_env`). A key is only ever sent to the server it was configured
with: a role or fallback on another server or provider inherits neither the server nor the key,
and a custom `api_base` with no `api_key_env` is sent no key at all (never the provider's usual
variable, such as OPENAI_API_KEY, which is meant for the provider's own server).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from recteam.agents.messages import Role

__all__ = ["OFFLINE", "AgentModelOverride", "Endpoint", "LLMSettings", "ModelSettings"]

OFFLINE = "offline"


def provider_of(model: str) -> str:
    """'openai/gpt-4o-mini' -> 'openai'; a bare name ('gpt-4o') is its own provider."""
    return model.partition("/")[0] if "/" in model else model


class Endpoint(BaseModel):
    """One model at one server with one key. Used for fallbacks and the web app's model menus;
    a bare string there means the model at its provider's usual server and key variable."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1, description="A litellm model string, e.g. 'ollama/llama3.1'.")
    api_base: str | None = Field(
        default=None, description="The server's base URL; empty uses the provider's own."
    )
    api_key_env: str | None = Field(
        default=None,
        description=(
            "Variable holding the key for this server; empty: the provider's usual variable for "
            "the provider's own server, and no key at all for a custom api_base."
        ),
    )
    context_window: int | None = Field(
        default=None, gt=0, description="Tokens the model accepts (Ollama's num_ctx)."
    )

    @property
    def offline(self) -> bool:
        return self.model == OFFLINE

    @property
    def label(self) -> str:
        return f"{self.model} @ {self.api_base}" if self.api_base else self.model


class ModelSettings(BaseModel):
    """Everything needed to call one chat model through litellm."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(
        min_length=1,
        description=(
            "A litellm model string, e.g. 'openai/gpt-4o-mini', 'anthropic/claude-3-5-haiku-latest', "
            "'ollama/llama3.1', 'hosted_vllm/<model>', 'litellm_proxy/<model>'; 'offline' uses no "
            "LLM at all."
        ),
    )
    temperature: float = Field(default=0.2, ge=0, le=2, description="Sampling temperature.")
    api_base: str | None = Field(
        default=None,
        description="Base URL of the model server, e.g. http://localhost:11434 for Ollama; empty uses the provider's.",
    )
    api_key_env: str | None = Field(
        default=None,
        description=(
            "Name of the environment variable holding the API key (the key itself never goes in a "
            "config file); empty lets litellm read the provider's usual variable, e.g. OPENAI_API_KEY."
        ),
    )
    timeout: float = Field(
        default=60.0, gt=0, description="Seconds to wait for the model to answer."
    )
    retries: int = Field(
        default=2,
        ge=0,
        le=10,
        description="Extra attempts per model after a timeout, rate limit (429) or server error (5xx).",
    )
    backoff: float = Field(
        default=1.0,
        ge=0,
        description=(
            "Seconds before the first retry; each further retry waits twice as long (a server's "
            "Retry-After is honoured instead)."
        ),
    )
    cooldown: float = Field(
        default=60.0,
        ge=0,
        description=(
            "Seconds a model that failed all its attempts is skipped (straight to its fallbacks "
            "or the offline policy) by every role, instead of being retried on every turn."
        ),
    )
    fallbacks: list[str | Endpoint] = Field(
        default_factory=list,
        description=(
            "Models tried in order once the primary has failed all its attempts: a model string, "
            "or {model, api_base, api_key_env} for a model on another server. A string from the "
            "primary's provider (same prefix before '/') is served by the primary's server with "
            "its key; any other uses its provider's own server and usual key variable."
        ),
    )
    max_tokens: int | None = Field(
        default=None,
        gt=0,
        description="Most tokens a reply may have; empty leaves it to the model.",
    )
    context_window: int = Field(
        default=8192,
        gt=0,
        description="Tokens the model accepts, used when litellm does not know the model (most local ones).",
    )
    # litellm knows no capabilities for most local models, so they are declared here. The defaults
    # describe a current text-only chat model served through an OpenAI-compatible API.
    vision: bool = Field(default=False, description="The model accepts images.")
    function_calling: bool = Field(default=True, description="The model can call tools.")
    json_output: bool = Field(default=True, description="The model has a JSON mode.")
    structured_output: bool = Field(
        default=True, description="The model follows a JSON schema given as response_format."
    )
    family: str = Field(
        default="unknown",
        description="AutoGen model family, e.g. 'gpt-4o', 'claude-3-5-haiku', 'llama-3.3-70b'; 'unknown' is fine.",
    )

    @property
    def offline(self) -> bool:
        return self.model == OFFLINE

    @property
    def endpoint(self) -> Endpoint:
        return Endpoint(
            model=self.model,
            api_base=self.api_base,
            api_key_env=self.api_key_env,
            context_window=self.context_window,
        )

    def endpoints(self) -> list[Endpoint]:
        """The primary, then each fallback, as the endpoints they are called at."""
        out = [self.endpoint]
        for fb in self.fallbacks:
            if isinstance(fb, Endpoint):
                out.append(fb)
            elif provider_of(fb) == provider_of(self.model):
                out.append(self.endpoint.model_copy(update={"model": fb}))
            else:
                out.append(Endpoint(model=fb))
        return out

    def at(self, endpoint: Endpoint) -> ModelSettings:
        """These settings with `endpoint` as the model (its server and key, nothing inherited)."""
        update: dict[str, Any] = {
            "model": endpoint.model,
            "api_base": endpoint.api_base,
            "api_key_env": endpoint.api_key_env,
            "fallbacks": [],
        }
        if endpoint.context_window:
            update["context_window"] = endpoint.context_window
        return self.model_copy(update=update)


class AgentModelOverride(BaseModel):
    """The fields of ModelSettings one role sets differently; an empty field inherits `llm.<field>`.

    Inheritance is field by field, except for the endpoint: a role given its own api_base, or a
    model of another provider, is another endpoint and inherits neither llm.api_base nor
    llm.api_key_env (a key is only ever sent to the server it was configured with).
    """

    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(default=None, min_length=1, description="Overrides llm.model.")
    temperature: float | None = Field(
        default=None, ge=0, le=2, description="Overrides llm.temperature."
    )
    api_base: str | None = Field(default=None, description="Overrides llm.api_base.")
    api_key_env: str | None = Field(default=None, description="Overrides llm.api_key_env.")
    timeout: float | None = Field(default=None, gt=0, description="Overrides llm.timeout.")
    retries: int | None = Field(default=None, ge=0, le=10, description="Overrides llm.retries.")
    backoff: float | None = Field(default=None, ge=0, description="Overrides llm.backoff.")
    cooldown: float | None = Field(default=None, ge=0, description="Overrides llm.cooldown.")
    fallbacks: list[str | Endpoint] | None = Field(
        default=None, description="Replaces llm.fallbacks."
    )
    max_tokens: int | None = Field(default=None, gt=0, description="Overrides llm.max_tokens.")
    context_window: int | None = Field(
        default=None, gt=0, description="Overrides llm.context_window."
    )
    vision: bool | None = Field(default=None, description="Overrides llm.vision.")
    function_calling: bool | None = Field(
        default=None, description="Overrides llm.function_calling."
    )
    json_output: bool | None = Field(default=None, description="Overrides llm.json_output.")
    structured_output: bool | None = Field(
        default=None, description="Overrides llm.structured_output."
    )
    family: str | None = Field(default=None, description="Overrides llm.family.")


class LLMSettings(ModelSettings):
    """The model every role uses, and the roles that use another."""

    model: str = Field(
        default=OFFLINE,
        min_length=1,
        description=(
            "A litellm model string, e.g. 'openai/gpt-4o-mini', 'anthropic/claude-3-5-haiku-latest', "
            "'ollama/llama3.1', 'hosted_vllm/<model>', 'litellm_proxy/<model>'; 'offline' (the "
            "default) runs the deterministic offline policy with no LLM."
        ),
    )
    agents: dict[Role, AgentModelOverride] = Field(
        default_factory=dict,
        description="Per-role overrides, e.g. [llm.agents.responder] model = 'openai/gpt-4o'.",
    )

    def for_agent(self, role: Role) -> ModelSettings:
        """The settings `role` runs with: its override's non-empty fields over the global ones;
        a role on another endpoint (its own api_base, or another provider) keeps only its own
        api_base and api_key_env."""
        merged: dict[str, Any] = self.model_dump(exclude={"agents"})
        override = self.agents.get(role)
        if override is not None:
            own = override.model_dump(exclude_none=True)
            moved = "api_base" in own or (
                "model" in own and provider_of(own["model"]) != provider_of(self.model)
            )
            if moved:
                merged["api_base"] = None
                merged["api_key_env"] = None
            merged.update(own)
        return ModelSettings.model_validate(merged)

    def every_role(self, model: str) -> LLMSettings:
        """`--model` / RECTEAM_LLM__MODEL: one model for every role, per-role models dropped (a
        role's other settings, such as its temperature, stay)."""
        agents = {
            role: o.model_copy(update={"model": None, "api_base": None, "api_key_env": None})
            for role, o in self.agents.items()
        }
        return self.model_copy(update={"model": model, "agents": agents})
