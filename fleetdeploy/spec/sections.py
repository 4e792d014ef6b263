"""One pydantic model per section of `fleetdeploy.yml`. Field validators turn what users write
("2g", "90s", "25%", relative paths) into typed, absolute values, and raise our own issues with hints."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from fleetdeploy.spec import rollout
from fleetdeploy.spec.conda import read_conda_file
from fleetdeploy.spec.entry_script import check_entry_script
from fleetdeploy.spec.fields import base_dir, context_cache, problem, problems, resolve_existing, resolve_path
from fleetdeploy.spec.units import parse_duration, parse_size

_ARTIFACT_NAME = re.compile(r"^[A-Za-z0-9._-]+$")


class Section(BaseModel):
    # Numbers are strict (`strict=True` per field) so `port: true` or `workers: "2"` is an error,
    # not a silent 1 or 2.
    model_config = ConfigDict(extra="forbid")


class ModelRef(Section):
    """One model artifact, placed on nodes as azureml-models/<name>/<version>/<basename of path>. Without
    `path` it names a model in the registry (fleetdeploy/registry.py): `version`, else the latest
    version carrying `tag`, else the latest; the spec resolves it (Spec._resolve_registered_models)."""

    name: str
    version: int | str | None = None  # with a path: 1 when not given
    path: Path | None = None
    tag: str | None = None  # registry only: "key" or "key=value"
    # Ship it even though its pickle imports something outside the known-safe list or was saved by
    # another scikit-learn than the environment pins (model_checks.py): the user vouches for it.
    trusted: bool = Field(default=False, strict=True)

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, value: object) -> str:
        if not isinstance(value, str) or not _ARTIFACT_NAME.match(value) or value in (".", ".."):
            raise problem(
                f"not a model name: {value!r}",
                "use letters, digits, '.', '_' and '-' (it becomes a folder name)",
            )
        return value

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, value: object) -> int | str:
        if isinstance(value, int) and not isinstance(value, bool):
            if value < 1:
                raise problem(f"version must be 1 or more, got {value}", "Azure numbers versions from 1")
            return value
        if isinstance(value, str) and _ARTIFACT_NAME.match(value) and value not in (".", ".."):
            return value
        raise problem(f"not a model version: {value!r}", "write a number like 3 or a label like 2024-05-01")

    @field_validator("path", mode="before")
    @classmethod
    def _path(cls, value: object, info: ValidationInfo) -> Path | None:
        if value is None:
            return None
        return resolve_existing(value, base_dir(info), "file or folder")

    @model_validator(mode="after")
    def _path_or_registry(self) -> ModelRef:
        if self.path is not None:
            if self.tag is not None:
                raise problem("tag picks a registered model version; this entry gives a path",
                              "drop tag, or drop path to take the model from the registry", at=("tag",))
            if self.version is None:
                self.version = 1
        return self

    @property
    def registered(self) -> bool:
        """Whether this entry was taken from the registry (no path in the spec)."""
        return self._registered

    _registered: bool = PrivateAttr(default=False)

    @property
    def layout_dir(self) -> str:
        """Where this model's folder sits under the models root: azureml-models/<name>/<version>."""
        return f"azureml-models/{self.name}/{self.version}"

    @property
    def layout_path(self) -> str:
        """Where the file or folder lands: like Azure, a folder keeps its own name beneath the version."""
        return f"{self.layout_dir}/{self.path.name}"


class EntryScript(Section):
    """The scoring script (with init() and run()) and the folder shipped beside it."""

    source_dir: Path | None = None
    path: Path

    @field_validator("source_dir", mode="before")
    @classmethod
    def _source_dir(cls, value: object, info: ValidationInfo) -> Path | None:
        if value is None:
            return None
        return resolve_existing(value, base_dir(info), "folder", "source_dir is relative to the spec file")

    @field_validator("path", mode="before")
    @classmethod
    def _path(cls, value: object, info: ValidationInfo) -> Path:
        if "source_dir" not in info.data:
            # source_dir is wrong and already reported; the script can only be found once it is fixed.
            return Path(str(value))
        given_source = info.data["source_dir"]
        start = given_source or base_dir(info)
        relative_to = "source_dir" if given_source else "the spec file"
        script = resolve_existing(value, start, "file", f"entry_script.path is relative to {relative_to}")
        if given_source and not script.is_relative_to(given_source):
            raise problem(
                f"{value} is outside source_dir {given_source}",
                "the script is shipped from inside source_dir",
            )
        found = check_entry_script(script)
        if found:
            raise problems([((), item.problem, item.hint) for item in found])
        return script

    @model_validator(mode="after")
    def _default_source_dir(self) -> EntryScript:
        if self.source_dir is None:
            self.source_dir = self.path.parent
        return self

    @property
    def relative_path(self) -> str:
        """The script's path inside source_dir, as AZUREML_ENTRY_SCRIPT wants it."""
        return self.path.relative_to(self.source_dir).as_posix()


class Environment(Section):
    """The Python packages the script needs: a pip requirements file or a conda environment file."""

    pip: Path | None = None
    conda: Path | None = None
    base_image: str = "fleetdeploy/python:3.11-slim"

    _conda_content: dict[str, Any] | None = PrivateAttr(default=None)

    @field_validator("pip", mode="before")
    @classmethod
    def _pip(cls, value: object, info: ValidationInfo) -> Path | None:
        if value is None:
            return None
        return resolve_existing(
            value, base_dir(info), "file", "a pip requirements file, relative to the spec"
        )

    @field_validator("conda", mode="before")
    @classmethod
    def _conda(cls, value: object, info: ValidationInfo) -> Path | None:
        if value is None:
            return None
        path = resolve_existing(
            value, base_dir(info), "file", "a conda environment file, relative to the spec"
        )
        content, found = read_conda_file(path)
        if found:
            raise problems([((), message, hint) for message, hint in found])
        context_cache(info)[("conda", path)] = content
        return path

    @field_validator("base_image", mode="before")
    @classmethod
    def _base_image(cls, value: object) -> str:
        if not isinstance(value, str) or not value.strip() or any(char.isspace() for char in value):
            raise problem(
                f"not an image reference: {value!r}", "e.g. python:3.11-slim or registry/team/image:tag"
            )
        return value

    @model_validator(mode="after")
    def _exactly_one(self, info: ValidationInfo) -> Environment:
        if (self.pip is None) == (self.conda is None):
            said = "both pip and conda are set" if self.pip else "neither pip nor conda is set"
            raise problem(
                f"{said}", "give exactly one: `pip: requirements.txt` or `conda: conda_dependencies.yml`"
            )
        if self.conda is not None:
            self._conda_content = context_cache(info).get(("conda", self.conda))
        return self

    @property
    def kind(self) -> Literal["pip", "conda"]:
        return "pip" if self.pip is not None else "conda"

    @property
    def file(self) -> Path:
        return self.pip if self.pip is not None else self.conda

    @property
    def conda_content(self) -> dict[str, Any] | None:
        """The parsed conda file (checked shape), or None for a pip environment."""
        return self._conda_content

    def pip_requirements(self) -> list[str]:
        """Requirement lines of the pip file (or the conda file's pip section), without comments."""
        if self.pip is not None:
            lines = self.pip.read_text(encoding="utf-8").splitlines()
            return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
        for item in (self._conda_content or {}).get("dependencies", []):
            if isinstance(item, dict):
                return list(item["pip"])
        return []


Gpus = int | Literal["all"] | list[str]


class Resources(Section):
    """Container limits. None (the default, as with `docker run`) means no limit: a default cap would
    kill a large model with an out-of-memory error the user never asked for."""

    cpus: float | None = Field(default=None, gt=0, strict=True)
    memory: int | None = None
    gpus: Gpus = 0

    @field_validator("memory", mode="before")
    @classmethod
    def _memory(cls, value: object) -> int | None:
        if value is None:
            return None
        try:
            size = parse_size(value)
        except ValueError as exc:
            raise problem(str(exc))
        if size < parse_size("6m"):
            raise problem(
                f"{value!r} is below Docker's minimum of 6m", "write e.g. 512m or 2g; plain numbers are bytes"
            )
        return size

    @field_validator("gpus", mode="before")
    @classmethod
    def _gpus(cls, value: object) -> Gpus:
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
        if isinstance(value, str) and value.strip().lower() == "all":
            return "all"
        if isinstance(value, list) and value and all(isinstance(item, str | int) for item in value):
            return [str(item) for item in value]
        raise problem(
            f"not a GPU request: {value!r}", "write 0, all, a count like 2, or device ids like ['0', '1']"
        )

    def device_requests(self) -> list[dict[str, Any]]:
        """The Docker API's DeviceRequests for these GPUs ([] when none are asked for)."""
        if self.gpus == 0:
            return []
        request: dict[str, Any] = {"Driver": "nvidia", "Capabilities": [["gpu"]]}
        if self.gpus == "all":
            request["Count"] = -1
        elif isinstance(self.gpus, int):
            request["Count"] = self.gpus
        else:
            request["DeviceIDs"] = list(self.gpus)
        return [request]


class Endpoint(Section):
    """How clients reach the service (docs/security.md): `tls` makes the node front (HAProxy) speak HTTPS
    only, with a certificate per node from the site's files or the fleet's own CA; `auth: key` makes it
    ask every request but liveness (`GET /`) for one of the service's two keys."""

    tls: Literal["none", "files", "fleet-ca"] = "none"
    # tls: files: the CA bundle the controller's checks trust (default: the system's); relative to the spec.
    ca_file: Path | None = None
    # tls: fleet-ca: where the fleet's CA lives on the controller (default: <data home>/ca).
    ca_dir: Path | None = None
    auth: Literal["none", "key"] = "none"
    # Where the keys are kept on the controller (0600, or vault-encrypted); relative to the spec. Made on
    # the first apply with auth on. Default: keys/<service>.keys beside the spec.
    keys_file: Path | None = None
    # auth: key: a third, read-only token in the keys file that opens GET /metrics alone (a scraper's).
    metrics_token: bool = Field(default=False, strict=True)

    @field_validator("tls", mode="before")
    @classmethod
    def _tls(cls, value: object) -> object:
        if value is False or value in ("none", "off"):  # YAML reads a bare `off` as false
            return "none"
        if value in ("files", "fleet-ca"):
            return value
        raise problem(
            f"not a TLS mode: {value!r}",
            "none (plain HTTP), files (each node's fleetdeploy_tls_cert and fleetdeploy_tls_key in the "
            "inventory) or fleet-ca (fleetdeploy's own CA issues each node a certificate)",
        )

    @field_validator("ca_file", mode="before")
    @classmethod
    def _ca_file(cls, value: object, info: ValidationInfo) -> Path | None:
        if value is None:
            return None
        return resolve_existing(value, base_dir(info), "file", "a PEM bundle of the CA that signed the nodes' certificates")

    @field_validator("ca_dir", mode="before")
    @classmethod
    def _ca_dir(cls, value: object, info: ValidationInfo) -> Path | None:
        if value is None:
            return None
        return resolve_path(value, base_dir(info), "a folder on this controller, relative to the spec")

    @field_validator("auth", mode="before")
    @classmethod
    def _auth(cls, value: object) -> object:
        if value in ("none", "key"):
            return value
        raise problem(f"not an auth mode: {value!r}", "none (anyone may call the service) or key")

    @field_validator("keys_file", mode="before")
    @classmethod
    def _keys_file(cls, value: object, info: ValidationInfo) -> Path | None:
        if value is None:
            return None
        return resolve_path(value, base_dir(info), "a file on this controller, relative to the spec")

    @model_validator(mode="after")
    def _metrics_token_needs_keys(self) -> Endpoint:
        if self.metrics_token and self.auth != "key":
            raise problem(
                "metrics_token is true but auth is not key: without key auth /metrics is open to anyone",
                "set auth: key, or drop metrics_token", at=("metrics_token",),
            )
        return self


class Server(Section):
    """Settings of the scoring server inside the container."""

    workers: int = Field(default=1, ge=1, strict=True)
    timeout: float = 60.0
    max_body: int = parse_size("100MiB")
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @field_validator("timeout", mode="before")
    @classmethod
    def _timeout(cls, value: object) -> float:
        return _positive_duration(value)

    @field_validator("max_body", mode="before")
    @classmethod
    def _max_body(cls, value: object) -> int:
        try:
            size = parse_size(value)
        except ValueError as exc:
            raise problem(str(exc))
        if size < 1:
            raise problem("must be more than 0 bytes", "e.g. 100MiB")
        return size

    @field_validator("log_level", mode="before")
    @classmethod
    def _log_level(cls, value: object) -> object:
        levels = ("debug", "info", "warning", "error")
        if isinstance(value, str) and value.lower() in levels:
            return value.lower()
        raise problem(f"not a log level: {value!r}", "one of " + ", ".join(levels))


class Parity(Section):
    """The prediction-parity gate: golden requests the new release must answer as the serving one does."""

    requests: list[Path] = []
    abs_tolerance: float = Field(default=0.0, ge=0)
    rel_tolerance: float = Field(default=0.0, ge=0)

    @field_validator("requests", mode="before")
    @classmethod
    def _requests(cls, value: object, info: ValidationInfo) -> list[Path]:
        items = value if isinstance(value, list) else [value]
        found, paths = [], []
        for index, item in enumerate(items):
            try:
                path = resolve_existing(
                    item, base_dir(info), "file", "a JSON request body, relative to the spec"
                )
                json.loads(path.read_text(encoding="utf-8"))
                paths.append(path)
            except (ValueError, UnicodeDecodeError) as exc:
                found.append(
                    ((index,), f"not a JSON request body: {exc}", "it is sent as the body of POST /score")
                )
        if found:
            raise problems(found)
        return paths

    def bodies(self) -> list[str]:
        return [path.read_text(encoding="utf-8") for path in self.requests]


class Health(Section):
    """How the deploy decides a node is healthy: /ready within ready_timeout, then an optional sample."""

    ready_timeout: float = 120.0
    request_timeout: float = 10.0
    sample_request: Any = None
    sample_request_file: Path | None = None
    expected_response: Any = None
    parity: Parity = Parity()

    _sample_body: str | None = PrivateAttr(default=None)

    @field_validator("ready_timeout", "request_timeout", mode="before")
    @classmethod
    def _timeouts(cls, value: object) -> float:
        return _positive_duration(value)

    @field_validator("sample_request", mode="before")
    @classmethod
    def _sample_request(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                json.loads(value)
            except json.JSONDecodeError as exc:
                raise problem(
                    f"is a string but not JSON: {exc.msg} at character {exc.pos}",
                    "write it as YAML (sample_request: {data: [[1, 2]]}) or as a JSON string",
                )
        return value

    @field_validator("sample_request_file", mode="before")
    @classmethod
    def _sample_request_file(cls, value: object, info: ValidationInfo) -> Path | None:
        if value is None:
            return None
        path = resolve_existing(value, base_dir(info), "file", "a JSON request body, relative to the spec")
        try:
            json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise problem(f"{path.name} is not JSON: {exc}", "it is sent as the body of POST /score")
        return path

    @model_validator(mode="after")
    def _one_sample(self) -> Health:
        if self.sample_request is not None and self.sample_request_file is not None:
            raise problem(
                "both sample_request and sample_request_file are set", "keep one", at=("sample_request_file",)
            )
        if self.sample_request_file is not None:
            self._sample_body = self.sample_request_file.read_text(encoding="utf-8")
        elif isinstance(self.sample_request, str):
            self._sample_body = self.sample_request
        elif self.sample_request is not None:
            self._sample_body = json.dumps(self.sample_request)
        if self.expected_response is not None and self._sample_body is None:
            raise problem(
                "expected_response is set but there is no sample request to compare it with",
                "add sample_request or sample_request_file",
                at=("expected_response",),
            )
        return self

    def sample_request_body(self) -> str | None:
        """The request body (JSON text) to POST to /score after start, or None."""
        return self._sample_body


class Transfer(Section):
    """How the scoring image reaches Docker nodes that lack it (docs/image.md, "Transfer"). `tunnel`: apply
    runs a registry on the controller's loopback and each node pulls from it through an SSH remote forward
    on its own loopback, so only the layers it lacks travel; `archive`: the whole `docker save` tarball;
    `auto` (the default): the tunnel, and the tarball for a node where it cannot be used (its sshd refuses
    forwards) or on a controller without a registry. Ignored with `registry:` (nodes pull from it)."""

    mode: Literal["auto", "tunnel", "archive"] = "auto"
    # The registry's port on the controller's loopback and, through the forward, on each node's; default:
    # a free one per apply (two applies from one controller never share one).
    port: int | None = Field(default=None, ge=1024, le=65535, strict=True)


class Rollout(Section):
    """How many hosts are updated at a time, how many may fail, and the pause between batches."""

    batch: list[rollout.BatchSize] = [1]
    max_fail: int | str = 0
    pause: float = 0.0
    # blue-green: the new release starts beside the old one (no failed request); recreate: the old one
    # stops first (for nodes that cannot hold two copies, e.g. one GPU's memory; requests fail meanwhile).
    strategy: Literal["blue-green", "recreate"] = "blue-green"
    # When a batch fails beyond max_fail: roll back that batch's updated nodes, or every updated node.
    rollback: Literal["batch", "all", "none"] = "batch"
    keep_releases: int = Field(default=3, ge=1, le=50)
    slot_ports: tuple[int, int] | None = None
    # Docker CPU shares (the default weight is 1024) of a new release until it answers /ready: its model
    # load then takes only CPU the serving release leaves idle, and the node's answers keep their latency.
    # Raised to 1024 before it takes traffic. 1024 turns it off.
    warmup_cpu_shares: int = Field(default=128, ge=2, le=1024)

    @field_validator("batch", mode="before")
    @classmethod
    def _batch(cls, value: object) -> list[rollout.BatchSize]:
        items = value if isinstance(value, list) else [value]
        if not items:
            raise problem("is an empty list", "write a size like 1 or '25%', or a list like [1, '50%']")
        found, sizes = [], []
        for index, item in enumerate(items):
            try:
                sizes.append(rollout.parse_batch_size(item))
            except ValueError as exc:
                found.append(((index,) if isinstance(value, list) else (), str(exc), None))
        if found:
            raise problems(found)
        return sizes

    @field_validator("max_fail", mode="before")
    @classmethod
    def _max_fail(cls, value: object) -> int | str:
        try:
            return rollout.parse_max_fail(value)
        except ValueError as exc:
            raise problem(str(exc))

    @field_validator("pause", mode="before")
    @classmethod
    def _pause(cls, value: object) -> float:
        try:
            return parse_duration(value)
        except ValueError as exc:
            raise problem(str(exc))

    @field_validator("slot_ports", mode="after")
    @classmethod
    def _slot_ports(cls, value: tuple[int, int] | None) -> tuple[int, int] | None:
        if value is not None:
            for index, port in enumerate(value):
                if not 1 <= port <= 65535:
                    raise problems([((index,), f"not a port: {port}", None)])
            if value[0] == value[1]:
                raise problem(f"the two slots need different ports, got {list(value)}")
        return value

    def slot_ports_for(self, port: int) -> dict[str, int]:
        """The blue and green slots' node ports: given, or port+10000 / port+20000."""
        blue, green = self.slot_ports or (port + 10000, port + 20000)
        return {"blue": blue, "green": green}

    def batches(self, n_hosts: int) -> list[list[int]]:
        """Host indexes per batch, in order."""
        return rollout.batches(self.batch, n_hosts)

    def allowed_failures(self, n_hosts: int) -> int:
        return rollout.allowed_failures(self.max_fail, n_hosts)


def _positive_duration(value: object) -> float:
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise problem(str(exc))
    if seconds <= 0:
        raise problem(f"must be more than 0 seconds, got {value!r}")
    return seconds
