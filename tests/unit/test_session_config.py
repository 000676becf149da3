"""Session configuration from config.toml and flags; default shell discovery."""

from __future__ import annotations

from pathlib import Path

import pytest

from threadline.adapters.sessions.config import (
    ConfigError,
    load_session_config,
    parse_session_config,
)
from threadline.adapters.sessions.shell import default_user_shell


def write_config(home: Path, text: str) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(text)
    return home


def test_config_toml_values_are_used_and_flags_override_them(tmp_path: Path) -> None:
    home = write_config(
        tmp_path,
        'model = "o3"\nmodel_provider = "azure"\napproval_policy = "never"\n'
        'user_instructions = "Be brief."\ncwd = "/srv/app"\n',
    )

    config = load_session_config(str(home), {"model": "gpt-5", "cwd": None})

    s = config.settings
    assert (s.model, s.provider, s.approval_policy) == ("gpt-5", "azure", "never")
    assert (s.cwd, s.user_instructions) == ("/srv/app", "Be brief.")


def test_mcp_servers_use_codex_config_shape(tmp_path: Path) -> None:
    home = write_config(
        tmp_path,
        '[mcp_servers.docs]\ncommand = "npx"\nargs = ["-y", "server"]\n'
        'env = { TOKEN = "x" }\nstartup_timeout_sec = 20\n'
        '[mcp_servers.local]\ncommand = "/usr/bin/local-mcp"\n',
    )

    servers = load_session_config(str(home), default_cwd="/srv").mcp_servers

    assert list(servers) == ["docs", "local"]
    docs = servers["docs"]
    assert (docs.command, docs.args, dict(docs.env)) == ("npx", ("-y", "server"), {"TOKEN": "x"})
    assert docs.startup_timeout_sec == 20.0
    assert servers["local"].startup_timeout_sec == 10.0


def test_a_missing_config_file_gives_the_defaults(tmp_path: Path) -> None:
    config = load_session_config(str(tmp_path / "nowhere"), default_cwd="/srv")
    assert config.settings.cwd == "/srv"
    assert config.mcp_servers == {}


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"model": 3}, "model"),
        ({"approval_policy": "sometimes"}, "approval_policy"),
        ({"sandbox_policy": "none"}, "sandbox_policy"),
        ({"model_reasoning_effort": "extreme"}, "model_reasoning_effort"),
        ({"cwd": "relative/path"}, "cwd"),
        ({"modle": "typo"}, "modle"),
        ({"mcp_servers": {"x": {"args": []}}}, "mcp_servers.x.command"),
        ({"mcp_servers": {"x": {"command": "c", "args": "a b"}}}, "mcp_servers.x.args"),
        ({"mcp_servers": {"x": {"command": "c", "env": {"A": 1}}}}, "mcp_servers.x.env"),
        (
            {"mcp_servers": {"x": {"command": "c", "startup_timeout_sec": -1}}},
            "mcp_servers.x.startup_timeout_sec",
        ),
        ({"mcp_servers": {"x": {"command": "c", "url": "http://x"}}}, "mcp_servers.x.url"),
    ],
)
def test_invalid_config_is_an_error_naming_the_key(raw: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError, match=f"invalid `{key}`"):
        parse_session_config(raw, default_cwd="/srv")


def test_a_relative_cwd_flag_is_an_error_naming_cwd() -> None:
    with pytest.raises(ConfigError, match="invalid `cwd`: must be an absolute path"):
        parse_session_config({}, {"cwd": "here"}, default_cwd="/srv")


def test_invalid_toml_is_a_clear_error(tmp_path: Path) -> None:
    home = write_config(tmp_path, "model = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_session_config(str(home))


@pytest.mark.parametrize(
    ("shell", "kind", "rc"),
    [
        ("/bin/bash", "bash", "/home/u/.bashrc"),
        ("/usr/bin/zsh", "zsh", "/home/u/.zshrc"),
        ("/usr/bin/fish", "fish", "/home/u/.config/fish/config.fish"),
        ("/bin/sh", "sh", "/home/u/.profile"),
        ("/opt/nu", "nu", None),
    ],
)
def test_the_default_shell_comes_from_shell(
    monkeypatch: pytest.MonkeyPatch, shell: str, kind: str, rc: str | None
) -> None:
    monkeypatch.setenv("HOME", "/home/u")
    found = default_user_shell({"SHELL": shell})
    assert (found.kind, found.path, found.rc_file) == (kind, shell, rc)


def test_without_shell_the_passwd_entry_is_used() -> None:
    found = default_user_shell({})
    assert found.path.startswith("/")
    assert found.kind
