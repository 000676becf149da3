"""Session configuration: ``THREADLINE_HOME/config.toml``, overridden by flags.

Top-level keys ``model``, ``model_provider``, ``model_reasoning_effort``,
``cwd``, ``approval_policy``, ``sandbox_policy``, ``user_instructions``, and
MCP servers in Codex's shape, so a Codex config can be copied over::

    [mcp_servers.docs]
    command = "npx"
    args = ["-y", "@modelcontextprotocol/server-everything"]
    env = { LOG_LEVEL = "warn" }
    startup_timeout_sec = 20

Anything invalid is a ``ConfigError`` that names the key.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from typing import Any

from threadline.application.sessions import McpServerConfig, SessionConfig
from threadline.domain.session import SessionSettings

CONFIG_FILENAME = "config.toml"

DEFAULTS: dict[str, Any] = {
    "model": "gpt-5-codex",
    "model_provider": "openai",
    "model_reasoning_effort": None,
    "approval_policy": "on-request",
    "sandbox_policy": "workspace-write",
    "user_instructions": None,
}
APPROVAL_POLICIES = ("untrusted", "on-failure", "on-request", "never")
SANDBOX_POLICIES = ("read-only", "workspace-write", "danger-full-access")
REASONING_EFFORTS = ("minimal", "low", "medium", "high")
DEFAULT_STARTUP_TIMEOUT_SEC = 10.0
_KEYS = (*DEFAULTS, "cwd", "mcp_servers")


class ConfigError(ValueError):
    pass


def load_session_config(
    home: str, overrides: Mapping[str, Any] | None = None, *, default_cwd: str | None = None
) -> SessionConfig:
    """The config file's values, then ``overrides`` (flags; None means not given)."""
    path = os.path.join(home, CONFIG_FILENAME)
    raw: dict[str, Any] = {}
    try:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
    except FileNotFoundError:
        pass
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror or exc}") from exc
    return parse_session_config(raw, overrides, default_cwd=default_cwd, origin=path)


def parse_session_config(
    raw: Mapping[str, Any],
    overrides: Mapping[str, Any] | None = None,
    *,
    default_cwd: str | None = None,
    origin: str = CONFIG_FILENAME,
) -> SessionConfig:
    unknown = [k for k in raw if k not in _KEYS]
    values: dict[str, Any] = {**DEFAULTS, "cwd": default_cwd or os.getcwd()}
    values.update({k: v for k, v in raw.items() if k in values})
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})

    def bad(key: str, why: str) -> ConfigError:
        return ConfigError(f"{origin}: invalid `{key}`: {why}")

    for key in ("model", "model_provider", "approval_policy", "sandbox_policy", "cwd"):
        if not isinstance(values[key], str) or not values[key]:
            raise bad(key, "must be a non-empty string")
    for key in ("model_reasoning_effort", "user_instructions"):
        if values[key] is not None and not isinstance(values[key], str):
            raise bad(key, "must be a string")
    if values["approval_policy"] not in APPROVAL_POLICIES:
        raise bad("approval_policy", f"must be one of {', '.join(APPROVAL_POLICIES)}")
    if values["sandbox_policy"] not in SANDBOX_POLICIES:
        raise bad("sandbox_policy", f"must be one of {', '.join(SANDBOX_POLICIES)}")
    effort = values["model_reasoning_effort"]
    if effort is not None and effort not in REASONING_EFFORTS:
        raise bad("model_reasoning_effort", f"must be one of {', '.join(REASONING_EFFORTS)}")
    if not os.path.isabs(values["cwd"]):
        raise bad("cwd", f"must be an absolute path, not {values['cwd']!r}")
    if unknown:
        raise bad(unknown[0], "unknown key")

    settings = SessionSettings(
        model=values["model"],
        provider=values["model_provider"],
        reasoning_effort=effort,
        cwd=values["cwd"],
        approval_policy=values["approval_policy"],
        sandbox_policy=values["sandbox_policy"],
        user_instructions=values["user_instructions"],
    )
    servers = raw.get("mcp_servers", {})
    if not isinstance(servers, dict):
        raise bad("mcp_servers", "must be a table")
    return SessionConfig(
        settings=settings,
        mcp_servers={name: _server(f"mcp_servers.{name}", t, bad) for name, t in servers.items()},
    )


def _server(key: str, table: Any, bad: Any) -> McpServerConfig:
    if not isinstance(table, dict):
        raise bad(key, "must be a table")
    for name in table:
        if name not in ("command", "args", "env", "startup_timeout_sec"):
            raise bad(f"{key}.{name}", "unknown key")
    command = table.get("command")
    if not isinstance(command, str) or not command:
        raise bad(f"{key}.command", "must be a non-empty string")
    args = table.get("args", [])
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise bad(f"{key}.args", "must be a list of strings")
    env = table.get("env", {})
    if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
        raise bad(f"{key}.env", "must be a table of strings")
    timeout = table.get("startup_timeout_sec", DEFAULT_STARTUP_TIMEOUT_SEC)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise bad(f"{key}.startup_timeout_sec", "must be a positive number of seconds")
    return McpServerConfig(
        command=command, args=tuple(args), env=dict(env), startup_timeout_sec=float(timeout)
    )
