"""Default shell discovery: ``$SHELL``, else the user's passwd entry."""

from __future__ import annotations

import os
import pwd

from threadline.application.sessions import Shell

_RC_FILES = {
    "bash": "~/.bashrc",
    "zsh": "{zdotdir}/.zshrc",
    "fish": "~/.config/fish/config.fish",
    "sh": "~/.profile",
    "dash": "~/.profile",
    "ksh": "~/.kshrc",
}


def default_user_shell(environ: dict[str, str] | None = None) -> Shell:
    env = os.environ if environ is None else environ
    path = env.get("SHELL") or _passwd_shell() or "/bin/sh"
    kind = os.path.basename(path) or "sh"
    rc = _RC_FILES.get(kind)
    if rc is not None:
        zdotdir = env.get("ZDOTDIR") or "~"
        rc = os.path.expanduser(rc.format(zdotdir=zdotdir))
    return Shell(kind=kind, path=path, rc_file=rc)


def _passwd_shell() -> str | None:
    try:
        return pwd.getpwuid(os.getuid()).pw_shell or None
    except KeyError:
        return None
