"""The become (sudo) password a command was given: `-K/--ask-become-pass` or `--become-password-file`.

It becomes ANSIBLE_BECOME_PASSWORD_FILE in this process's environment, which `ansible-playbook` reads
(ansible-runner passes the environment on) and `logs` too: never an extra var, which ansible-runner
would write into the kept run folder. A typed password lives in a private 0600 file for the life of
the process. Without either, Ansible takes `ansible_become_password` from the inventory (vaulted or not).
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable
from pathlib import Path

from fleetdeploy.errors import ConfigError
from fleetdeploy.private_files import private_file

PASSWORD_FILE = "ANSIBLE_BECOME_PASSWORD_FILE"


def use_become_password(
    password_file: str | Path | None = None,
    ask: bool = False,
    prompt: Callable[[str], str] = getpass.getpass,
) -> None:
    if password_file is not None:
        path = Path(password_file)
        if not path.is_file():
            raise ConfigError(f"become password file {path}: no such file")
        os.environ[PASSWORD_FILE] = str(path.resolve())
    if ask:
        os.environ[PASSWORD_FILE] = str(private_file("become-password", prompt("BECOME password: ") + "\n"))
