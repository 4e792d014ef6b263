"""The spec's `env:` (plain settings) and `secrets:` (credentials) for the entry script: names checked,
sources described. The values of secrets are read on the controller only when a release is prepared
(fleetdeploy/secret_values.py); the spec itself never holds one in plain text."""

from __future__ import annotations

import os
import re
from pathlib import Path

from pydantic import ValidationInfo, field_validator, model_validator

from fleetdeploy.spec.fields import base_dir, problem, resolve_existing
from fleetdeploy.spec.sections import Section

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# The scoring server's own variables (docs/design.md): a user value would silently change where models
# are read from, or what the server does.
_RESERVED = re.compile(r"^(AZUREML_|AML_APP_ROOT$|FLEETDEPLOY_|PROMETHEUS_MULTIPROC_DIR$)")
SOURCES = ("env", "file", "vault")


class VaultText(str):
    """A `!vault` value as written in the spec: Ansible Vault ciphertext, decrypted when used."""


def check_names(names, field: str) -> list[tuple[tuple, str, str | None]]:
    """(location, message, hint) for each key that cannot be an environment variable of the server."""
    found = []
    for name in names:
        if not isinstance(name, str) or not _ENV_NAME.match(name):
            found.append(((name,), f"not an environment variable name: {name!r}",
                          "letters, digits and '_', not starting with a digit"))
        elif _RESERVED.match(name):
            found.append(((name,), f"{name} is the scoring server's own variable",
                          f"choose another name in `{field}`; AZUREML_*, AML_APP_ROOT and FLEETDEPLOY_* are set by fleetdeploy"))
    return found


def plain_value(value: object) -> str | None:
    """An `env:` value as the process sees it (YAML's true/false as "true"/"false"); None when a value
    cannot be one (a list, a mapping, null)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    return None


class SecretRef(Section):
    """Where one secret's value comes from: exactly one of `env`, `file`, `vault`."""

    env: str | None = None  # a variable of the controller's environment
    file: Path | None = None  # a file on the controller (vault-encrypted or not)
    vault: str | None = None  # Ansible Vault ciphertext (the `!vault` tag writes this)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: object) -> object:
        if isinstance(value, VaultText):
            return {"vault": str(value)}
        if isinstance(value, str):
            raise problem(
                "a secret's value is never written in the spec",
                "give where it comes from: {env: VARIABLE}, {file: PATH} or a !vault value "
                "(`ansible-vault encrypt_string`)",
            )
        return value

    @field_validator("env")
    @classmethod
    def _env(cls, name: str | None) -> str | None:
        if name is None:
            return None
        if not _ENV_NAME.match(name):
            raise problem(f"not an environment variable name: {name!r}")
        if name not in os.environ:
            raise problem(
                f"environment variable {name} is not set on this controller",
                f"export {name}=... before running fleetdeploy, or take the secret from a file",
            )
        # Whatever command loaded this spec (apply, rollback, status...), its Ansible runs must not
        # inherit the variable: ansible-runner records a run's environment in the kept run folder.
        from fleetdeploy.run.runner import withhold_from_runs

        withhold_from_runs(name)
        return name

    @field_validator("file", mode="before")
    @classmethod
    def _file(cls, value: object, info: ValidationInfo) -> Path | None:
        if value is None:
            return None
        return resolve_existing(value, base_dir(info), "file")

    @field_validator("vault")
    @classmethod
    def _vault(cls, text: str | None) -> str | None:
        if text is not None and not text.lstrip().startswith("$ANSIBLE_VAULT;"):
            raise problem("not Ansible Vault ciphertext", "make one with `ansible-vault encrypt_string`")
        return text

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        given = [name for name in SOURCES if getattr(self, name) is not None]
        if len(given) != 1:
            raise problem(
                f"give exactly one source, got {', '.join(given) or 'none'}",
                "one of {env: VARIABLE}, {file: PATH}, {vault: CIPHERTEXT} or a !vault value",
            )
        return self
