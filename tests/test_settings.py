from __future__ import annotations

from pathlib import Path

import pytest

from recteam.errors import ConfigError
from recteam.orchestration.settings import load_settings


def test_defaults_need_no_file_key_or_server() -> None:
    s = load_settings()
    assert s.memory.backend == "embedded"
    assert s.embedding.model == "all-MiniLM-L6-v2"
    assert s.catalog.path is None


def test_toml_then_env_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Path("recteam.toml").write_text(
        '[memory]\nbackend = "server"\nurl = "http://q:6333"\n[search]\nlimit = 5\n'
    )
    assert load_settings().search.limit == 5
    monkeypatch.setenv("RECTEAM_SEARCH__LIMIT", "7")
    s = load_settings()
    assert (s.memory.backend, s.memory.url, s.search.limit) == ("server", "http://q:6333", 7)


def test_dotenv_is_read(tmp_path: Path) -> None:
    Path(".env").write_text("RECTEAM_MEMORY__PREFIX=staging\n")
    assert load_settings().memory.prefix == "staging"


def test_misspelt_toml_key_names_the_key_and_a_suggestion() -> None:
    Path("recteam.toml").write_text('[memory]\nbakend = "server"\n')
    with pytest.raises(
        ConfigError, match=r"unknown setting memory.bakend \(did you mean memory.backend\?\)"
    ):
        load_settings()


def test_bad_value_names_the_setting_and_the_value() -> None:
    Path("recteam.toml").write_text('[memory]\nbackend = "qdrnt"\n')
    with pytest.raises(
        ConfigError,
        match=r"setting memory.backend: Input should be 'embedded' or 'server' \(got 'qdrnt'\)",
    ):
        load_settings()


def test_misspelt_environment_variable_is_not_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECTEAM_SEARCH__LIMT", "3")
    with pytest.raises(ConfigError, match=r"RECTEAM_SEARCH__LIMT \(did you mean search.limit\?\)"):
        load_settings()


def test_broken_toml_and_missing_config_file() -> None:
    Path("recteam.toml").write_text("[memory\n")
    with pytest.raises(ConfigError, match="recteam.toml: not valid TOML"):
        load_settings()
    with pytest.raises(ConfigError, match="config file nowhere.toml does not exist"):
        load_settings(Path("nowhere.toml"))


def test_the_example_file_is_valid_and_complete() -> None:
    example = Path(__file__).resolve().parent.parent / "recteam.example.toml"
    s = load_settings(example)
    assert s.memory.backend == "embedded" and s.search.rrf_k == 60
