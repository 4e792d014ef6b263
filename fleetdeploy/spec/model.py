"""The deployment spec as a typed model: the top level of `fleetdeploy.yml` (see docs/spec.md)."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, PrivateAttr, ValidationInfo, field_validator, model_validator

from fleetdeploy.spec.fields import base_dir, problem, problems, resolve_existing
from fleetdeploy.spec.node_runtime import NodeRuntime, check_runtime, environment_issues
from fleetdeploy.spec.secrets import SecretRef, check_names, plain_value
from fleetdeploy.spec.sections import (
    Endpoint,
    EntryScript,
    Environment,
    Health,
    ModelRef,
    Resources,
    Rollout,
    Section,
    Server,
    Transfer,
)

_SERVICE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,40}$")
DEFAULT_PORT = 6789


class Spec(Section):
    """A validated deployment spec; every path in it is absolute."""

    service: str
    models: list[ModelRef] = Field(min_length=1)
    entry_script: EntryScript
    environment: Environment
    runtime: str = "docker"
    port: int = Field(default=DEFAULT_PORT, ge=1, le=65535, strict=True)
    endpoint: Endpoint = Endpoint()
    resources: Resources = Resources()
    server: Server = Server()
    health: Health = Health()
    rollout: Rollout = Rollout()
    registry: str | None = None
    transfer: Transfer = Transfer()
    # The model registry's folder, for models: entries without a path; default: a workspace config found
    # from the spec's folder upward (fleetdeploy-workspace.json), else the data home's workspace.
    workspace: Path | None = None
    node_runtime: NodeRuntime = NodeRuntime()  # venv and conda runtimes only (docs/runtimes.md)
    env: dict[str, str] = Field(default_factory=dict)  # plain settings for the entry script
    secrets: dict[str, SecretRef] = Field(default_factory=dict)  # credentials, never in plain text here

    _source: Path | None = PrivateAttr(default=None)
    _data: dict | None = PrivateAttr(default=None)  # the file's mapping as read: per-host overrides start from it

    @field_validator("service", mode="before")
    @classmethod
    def _service(cls, value: object) -> str:
        if isinstance(value, str) and _SERVICE_NAME.match(value):
            return value
        hint = "lowercase letters, digits and '-', starting with a letter, at most 41 characters"
        if isinstance(value, str):
            suggestion = re.sub(r"[^a-z0-9-]+", "-", value.lower()).strip("-")[:41]
            if _SERVICE_NAME.match(suggestion):
                hint += f"; e.g. '{suggestion}'"
        raise problem(f"not a service name: {value!r}", hint)

    @field_validator("models", mode="after")
    @classmethod
    def _unique_models(cls, models: list[ModelRef]) -> list[ModelRef]:
        seen: dict[tuple[str, str], int] = {}
        found = []
        for index, model in enumerate(models):
            key = (model.name, str(model.version))
            if key in seen:
                message = f"duplicate model {model.name} version {model.version} (also models[{seen[key]}])"
                found.append(((index,), message, "give each model a distinct name or version"))
            seen.setdefault(key, index)
        if found:
            raise problems(found)
        return models

    @field_validator("workspace", mode="before")
    @classmethod
    def _workspace(cls, value: object, info: ValidationInfo) -> Path | None:
        if value is None:
            return None
        return resolve_existing(value, base_dir(info), "folder", "the model registry's folder, relative to the spec")

    @model_validator(mode="after")
    def _resolve_registered_models(self, info: ValidationInfo) -> Spec:
        wanted = [(index, model) for index, model in enumerate(self.models) if model.path is None]
        if not wanted:
            return self
        from fleetdeploy.errors import ConfigError
        from fleetdeploy.registry import Workspace

        try:
            workspace = Workspace(self.workspace) if self.workspace else Workspace.from_config(start=base_dir(info))
        except ConfigError as exc:
            raise problem(str(exc), at=("workspace",)) from None
        found = []
        for index, model in wanted:
            try:
                registered = workspace.get(model.name, model.version, tag=model.tag)
            except ConfigError as exc:
                found.append((("models", index), str(exc), "`fleetdeploy model list` shows what is registered"))
                continue
            model.path, model.version, model._registered = registered.path, registered.version, True
        if found:
            raise problems(found)
        return self

    @model_validator(mode="after")
    def _slot_ports_fit(self) -> Spec:
        ports = self.rollout.slot_ports_for(self.port)
        if self.rollout.slot_ports is None and max(ports.values()) > 65535:
            raise problem(
                f"port {self.port} leaves no room for the default slot ports (port+10000, port+20000)",
                "set rollout.slot_ports: [A, B], two free ports on the nodes",
                at=("rollout", "slot_ports"),
            )
        if self.port in ports.values():
            raise problem(
                f"rollout.slot_ports {list(ports.values())} include the service port {self.port}",
                "pick two other ports",
                at=("rollout", "slot_ports"),
            )
        return self

    @field_validator("runtime", mode="before")
    @classmethod
    def _runtime(cls, value: object) -> str:
        return check_runtime(value)

    @model_validator(mode="after")
    def _runtime_can_give_the_environment(self) -> Spec:
        conda = self.environment.conda
        found = environment_issues(self.runtime, self.environment.conda_content, conda.name if conda else "")
        if found:
            raise problems(found)
        return self

    @field_validator("env", mode="before")
    @classmethod
    def _env(cls, value: object) -> object:
        if not isinstance(value, dict):
            return value
        found = check_names(value, "env")
        values = {name: plain_value(item) for name, item in value.items()}
        found += [
            ((name,), f"must be a string, number or true/false, got {type(value[name]).__name__}",
             "an environment variable holds text; secrets go in `secrets`")
            for name, text in values.items() if text is None
        ]
        if found:
            raise problems(found)
        return values

    @field_validator("secrets", mode="before")
    @classmethod
    def _secret_names(cls, value: object) -> object:
        found = check_names(value, "secrets") if isinstance(value, dict) else []
        if found:
            raise problems(found)
        return value

    @model_validator(mode="after")
    def _env_and_secrets_apart(self) -> Spec:
        both = sorted(set(self.env) & set(self.secrets))
        if both:
            raise problem(
                f"{', '.join(both)} given in both `env` and `secrets`",
                "keep each variable in one of them: credentials in `secrets`",
                at=("secrets", both[0]),
            )
        return self

    @field_validator("registry", mode="before")
    @classmethod
    def _registry(cls, value: object) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip() or any(char.isspace() for char in value):
            raise problem(f"not a registry: {value!r}", "e.g. registry.example.com:5000/team")
        if "://" in value:
            raise problem(f"a registry has no scheme: {value!r}", f"write {value.split('://', 1)[1]!r}")
        return value.rstrip("/")

    @property
    def source(self) -> Path | None:
        """The spec file this was loaded from (None when built in code)."""
        return self._source

    @property
    def data(self) -> dict | None:
        """The spec file's mapping as read (None when built in code)."""
        return self._data

    @property
    def keys_path(self) -> Path | None:
        """Where the service's keys are kept on the controller, when `endpoint.auth: key`."""
        return self.keys_location if self.endpoint.auth == "key" else None

    @property
    def keys_location(self) -> Path:
        """Where the service's keys are, or would be, kept: never shipped as code, even with auth turned
        off again (the file stays beside the spec)."""
        if self.endpoint.keys_file is not None:
            return self.endpoint.keys_file
        folder = self.source.parent if self.source else Path.cwd()
        return folder / "keys" / f"{self.service}.keys"

    @property
    def fleet_ca_dir(self) -> Path | None:
        """Where the fleet's CA lives on the controller, when `endpoint.tls: fleet-ca`."""
        if self.endpoint.tls != "fleet-ca":
            return None
        from fleetdeploy.paths import data_home

        return self.endpoint.ca_dir or data_home() / "ca"

    @property
    def tls_trust(self) -> Path | None:
        """The CA certificate(s) the controller's checks trust: the fleet CA's, `endpoint.ca_file`, or None
        (the system's, or no TLS)."""
        if self.endpoint.tls == "fleet-ca":
            return self.fleet_ca_dir / "ca.pem"
        return self.endpoint.ca_file if self.endpoint.tls == "files" else None

    def model_dir_relative(self) -> str:
        """AZUREML_MODEL_DIR below the models root: one model -> azureml-models/<name>/<version>,
        several -> azureml-models (the same rule Azure ML applies)."""
        if len(self.models) == 1:
            return self.models[0].layout_dir
        return "azureml-models"
