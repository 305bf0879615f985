"""Settings for the LLM backends, composed into the root settings under `llm`.

One global model serves every role unless `llm.agents.<role>` overrides some of its fields; the
rest is inherited. `model = "offline"` (the default) runs the deterministic offline policy.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from recteam.agents.messages import Role

__all__ = ["OFFLINE", "AgentModelOverride", "LLMSettings", "ModelSettings"]

OFFLINE = "offline"


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
        description="Seconds before the first retry; each further retry waits twice as long.",
    )
    fallbacks: list[str] = Field(
        default_factory=list,
        description=(
            "Models tried in order once the primary has failed all its attempts. A fallback from "
            "the primary's provider (same prefix before '/') shares its api_base and key; one from "
            "another provider uses that provider's defaults and environment variables."
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


class AgentModelOverride(BaseModel):
    """The fields of ModelSettings one role sets differently; an empty field inherits `llm.<field>`.

    Inheritance is field by field: a role switched to another provider usually needs its own
    api_base and api_key_env too.
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
    fallbacks: list[str] | None = Field(default=None, description="Replaces llm.fallbacks.")
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
        """The settings `role` runs with: its override's non-empty fields over the global ones."""
        merged: dict[str, Any] = self.model_dump(exclude={"agents"})
        override = self.agents.get(role)
        if override is not None:
            merged.update(override.model_dump(exclude_none=True))
        return ModelSettings.model_validate(merged)
