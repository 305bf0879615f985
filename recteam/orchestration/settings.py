"""The root settings: every layer's own settings model, composed, read from (highest first)
keyword overrides, RECTEAM_* environment variables (nested with '__'), a .env file, and
recteam.toml (or the file named by RECTEAM_CONFIG / --config).

A misspelt key or a bad value stops start-up with one line naming the setting and the problem.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from recteam.agents.settings import TeamSettings
from recteam.errors import ConfigError
from recteam.memory.settings import EmbeddingSettings, MemorySettings, SearchSettings
from recteam.orchestration.llm_settings import Endpoint, LLMSettings

__all__ = ["CatalogSettings", "Settings", "UISettings", "load_settings"]

ENV_PREFIX = "RECTEAM_"
CONFIG_ENV = "RECTEAM_CONFIG"
DEFAULT_CONFIG = Path("recteam.toml")


class CatalogSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: Path | None = Field(
        default=None,
        description=(
            "Catalog ingested on first start when the store is empty, and again (adding and "
            "updating films) when the file changed since; empty means the shipped catalog of "
            "~38k films (data/catalog.jsonl.gz)."
        ),
    )


class UISettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = Field(default="127.0.0.1", description="Address the web app listens on.")
    port: int = Field(default=7860, ge=1, le=65535, description="Port of the web app.")
    models: list[str | Endpoint] = Field(
        default_factory=list,
        description=(
            "Models a person may switch an agent to in the web app: a litellm string (the "
            "provider's own server and key variable) or {model, api_base, api_key_env}; 'offline' "
            "and the configured models are always offered."
        ),
    )
    concurrency: int = Field(
        default=16, ge=1, le=256, description="Turns the web app runs at once."
    )
    posters: bool = Field(
        default=True,
        description=(
            "Show poster thumbnails from the catalog on the recommendation cards (the user's "
            "browser loads them from where the catalog points, Wikimedia for the shipped one); "
            "false = no remote image is ever loaded."
        ),
    )
    auth_file: Path | None = Field(
        default=None,
        description=(
            "File of web-app logins, one 'user:password' per line ('#' starts a comment); a "
            "password may be an scrypt hash from `python -m recteam.ui.auth NAME`. With logins, a "
            "person is who they signed in as, not a typed name. Required (this or ui.auth) when "
            "ui.host is not a loopback address."
        ),
    )
    auth: SecretStr | None = Field(
        default=None,
        description=(
            "Web-app logins as 'user:password,user2:password2', best given in the environment "
            "(RECTEAM_UI__AUTH); added to those of ui.auth_file."
        ),
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        env_file=".env",
        extra="forbid",
        validate_default=True,
    )

    memory: MemorySettings = Field(default_factory=MemorySettings)
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    search: SearchSettings = Field(default_factory=SearchSettings)
    catalog: CatalogSettings = Field(default_factory=CatalogSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    team: TeamSettings = Field(default_factory=TeamSettings)
    ui: UISettings = Field(default_factory=UISettings)

    _toml_file: Path | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources = [init_settings, env_settings, dotenv_settings]
        if cls._toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=cls._toml_file))
        return tuple(sources)


def _known_paths(model: type[BaseModel], prefix: str = "") -> set[str]:
    paths: set[str] = set()
    for name, info in model.model_fields.items():
        paths.add(prefix + name)
        ann = info.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            paths |= _known_paths(ann, f"{prefix}{name}.")
        elif get_origin(ann) is dict:
            # dict[Literal[...], Model] (per-agent overrides): every key is a known path.
            key_type, value_type = get_args(ann)
            for key in get_args(key_type) if get_origin(key_type) is Literal else ():
                paths.add(f"{prefix}{name}.{key}")
                if isinstance(value_type, type) and issubclass(value_type, BaseModel):
                    paths |= _known_paths(value_type, f"{prefix}{name}.{key}.")
    return paths


def _unknown_env_settings() -> list[str]:
    known = _known_paths(Settings)
    unknown = []
    for key in os.environ:
        if key.startswith(ENV_PREFIX) and key != CONFIG_ENV:
            path = key[len(ENV_PREFIX) :].lower().replace("__", ".")
            if path not in known:
                unknown.append(key)
    return unknown


def _did_you_mean(path: str) -> str:
    close = difflib.get_close_matches(path, sorted(_known_paths(Settings)), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def _describe(exc: ValidationError, origin: str) -> str:
    lines = []
    for err in exc.errors():
        path = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            lines.append(f"{origin}: unknown setting {path}{_did_you_mean(path)}")
        else:
            got = err.get("input")
            shown = "" if isinstance(got, dict) else f" (got {got!r})"
            lines.append(f"{origin}: setting {path}: {err['msg']}{shown}")
    more = f" (and {len(lines) - 1} more)" if len(lines) > 1 else ""
    return lines[0] + more


def load_settings(config: Path | None = None, **overrides: Any) -> Settings:
    """Reads and validates all settings, or raises ConfigError with one line naming the culprit."""
    explicit = config or (Path(os.environ[CONFIG_ENV]) if os.environ.get(CONFIG_ENV) else None)
    toml_file = explicit or (DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None)
    if explicit is not None and not explicit.exists():
        raise ConfigError(f"config file {explicit} does not exist")
    if toml_file is not None:
        try:
            tomllib.loads(toml_file.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{toml_file}: not valid TOML: {exc}") from exc
    unknown = _unknown_env_settings()
    if unknown:
        path = unknown[0][len(ENV_PREFIX) :].lower().replace("__", ".")
        raise ConfigError(f"environment: unknown setting {unknown[0]}{_did_you_mean(path)}")
    origin = f"{toml_file}, environment or .env" if toml_file else "environment or .env"
    Settings._toml_file = toml_file
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, origin)) from None
    finally:
        Settings._toml_file = None
    # RECTEAM_LLM__MODEL, like --model, means every role: a per-role model in the file gives way.
    env_model = os.environ.get(f"{ENV_PREFIX}LLM__MODEL")
    if env_model:
        settings.llm = settings.llm.every_role(env_model)
    return settings
