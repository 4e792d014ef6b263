"""Ansible Vault on the controller: the passwords a command was given, for the inventory it reads and
for every Ansible run it starts.

Sites keep secrets in vault-encrypted inventory files, `group_vars`/`host_vars` files and inline
`!vault` values. The flags Ansible users type (`--vault-password-file`, `--vault-id`,
`--ask-vault-pass`) become entries of ANSIBLE_VAULT_IDENTITY_LIST in this process's environment, which
is where `ansible-playbook` (started by ansible-runner, which passes the environment on) reads them as
well: one mechanism for the inventory loaded here and the runs, and ANSIBLE_VAULT_PASSWORD_FILE /
ANSIBLE_VAULT_IDENTITY_LIST set by the user work the same way. A password typed at `--ask-vault-pass`
lives in a 0600 file in a private folder for the life of the process, never in a run folder.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable, Iterable
from pathlib import Path

from fleetdeploy.errors import ConfigError
from fleetdeploy.private_files import private_file

IDENTITY_LIST = "ANSIBLE_VAULT_IDENTITY_LIST"
PASSWORD_FILE = "ANSIBLE_VAULT_PASSWORD_FILE"
HOW_TO_PASS = (
    "pass --vault-password-file FILE, --vault-id [LABEL@]FILE or --ask-vault-pass "
    f"(or set {PASSWORD_FILE})"
)

_secrets_cache: dict[tuple[str, str], list] = {}


def use_vault(
    vault_ids: Iterable[str] = (),
    password_files: Iterable[str | Path] = (),
    ask: bool = False,
    prompt: Callable[[str], str] = getpass.getpass,
) -> None:
    """Add the command's vault identities to this process's environment (and so to its Ansible runs).
    A password file is an identity without a label, as with ansible-playbook."""
    identities = [str(path) for path in password_files] + list(vault_ids)
    for identity in identities:
        source = identity.split("@", 1)[-1]
        if source not in ("prompt", "prompt_ask_vault_pass") and not Path(source).exists():
            raise ConfigError(f"vault password file {source}: no such file")
    if ask:
        identities.append(_asked_password_file(prompt("Vault password: ")))
    if identities:
        present = [item for item in os.environ.get(IDENTITY_LIST, "").split(",") if item]
        os.environ[IDENTITY_LIST] = ",".join(dict.fromkeys([*present, *identities]))


def vault_secrets_given() -> bool:
    return bool(os.environ.get(IDENTITY_LIST) or os.environ.get(PASSWORD_FILE))


def vault_secrets(loader) -> list:
    """The secrets the environment names, loaded the way Ansible's own commands load them, and set on
    `loader` and on Ansible's process-wide context (which inline `!vault` values decrypt with). Empty
    when no vault password was given."""
    identities = [item for item in os.environ.get(IDENTITY_LIST, "").split(",") if item]
    password_file = os.environ.get(PASSWORD_FILE, "")
    key = (",".join(identities), password_file)
    if key not in _secrets_cache:
        _secrets_cache[key] = _load(loader, identities, password_file) if any(key) else []
    secrets = _secrets_cache[key]
    loader.set_vault_secrets(secrets)
    _set_context(secrets)
    return secrets


def _load(loader, identities: list[str], password_file: str) -> list:
    from ansible.cli import CLI
    from ansible.errors import AnsibleError

    try:
        return CLI.setup_vault_secrets(
            loader,
            vault_ids=identities,
            vault_password_files=[password_file] if password_file else [],
            auto_prompt=False,
            initialize_context=False,
        )
    except AnsibleError as exc:
        raise ConfigError(f"vault password: {first_line(exc)}") from None


def is_vaulted(data: bytes) -> bool:
    from ansible.parsing.vault import is_encrypted

    return is_encrypted(data.lstrip())


def decrypted(data: bytes, where: str, what: str) -> bytes:
    """`data` (vault-encrypted) decrypted with the passwords the command was given; ConfigError naming
    `where` and `what` when none was given or none decrypts it."""
    from ansible.errors import AnsibleError
    from ansible.parsing.dataloader import DataLoader
    from ansible.parsing.vault import VaultLib

    secrets = vault_secrets(DataLoader())
    if not secrets:
        raise ConfigError(f"{where}: {what} is vault-encrypted and no vault password was given; {HOW_TO_PASS}")
    try:
        return VaultLib(secrets).decrypt(data)
    except AnsibleError as exc:
        raise ConfigError(f"{where}: the vault password given does not decrypt {what} ({first_line(exc)})") from None


def encrypted(text: str, where: str) -> bytes:
    """`text` vault-encrypted with the first password the command was given (as ansible-vault encrypt)."""
    from ansible.parsing.dataloader import DataLoader
    from ansible.parsing.vault import VaultLib

    secrets = vault_secrets(DataLoader())
    if not secrets:
        raise ConfigError(f"{where} is vault-encrypted: writing it again needs its vault password; {HOW_TO_PASS}")
    vault_id, secret = secrets[0]
    return VaultLib(secrets).encrypt(text, secret, vault_id=None if vault_id == "default" else vault_id)


def first_line(exc: BaseException) -> str:
    """The first line of an Ansible error's own message (its str() appends the offending source)."""
    return str(getattr(exc, "message", None) or exc).strip().splitlines()[0]


def _set_context(secrets: list) -> None:
    from ansible.parsing.vault import VaultSecretsContext

    context = VaultSecretsContext.current(optional=True)
    if context is None:
        VaultSecretsContext.initialize(VaultSecretsContext(secrets))
    else:
        # Ansible sets it once per process; a long-lived one (tests, `status --watch`) given other
        # passwords later must not go on decrypting with the first ones.
        context.secrets = secrets


def _asked_password_file(password: str) -> str:
    return str(private_file("vault-password", password + "\n"))
