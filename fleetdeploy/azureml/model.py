"""`Model`: a registered model version, with the Azure ML SDK's calls (register, list, download, tags,
get_model_path) over fleetdeploy's registry."""

from __future__ import annotations

import os
from pathlib import Path

from fleetdeploy.errors import ConfigError
from fleetdeploy.registry import RegisteredModel, Workspace


class Model:
    """`Model(ws, "sklearn_mnist")` is the latest version, `version=3` a given one, `id="name:3"` the same;
    `tags=["stage"]` or `[["stage", "prod"]]` the latest version carrying them."""

    def __init__(self, workspace: Workspace, name: str | None = None, id: str | None = None, tags=None,
                 properties=None, version: int | None = None, run_id=None, **_cloud):
        if id is not None:
            name, _, given = id.partition(":")
            version = int(given) if given.isdigit() else version
        if not name:
            raise ConfigError("Model(workspace, name): a model name (or id='name:version') is needed")
        tag = _tag_filters(tags)
        found = _matching(workspace, name, version, tag, properties)
        self.workspace = workspace
        self._record = found

    # Azure's attributes
    name = property(lambda self: self._record.name)
    version = property(lambda self: self._record.version)
    id = property(lambda self: self._record.id)
    tags = property(lambda self: dict(self._record.tags))
    properties = property(lambda self: dict(self._record.properties))
    description = property(lambda self: self._record.description)
    created_time = property(lambda self: self._record.created)

    @property
    def path(self) -> Path:
        """The registered file or folder inside the workspace (read-only)."""
        return self._record.path

    @staticmethod
    def register(workspace: Workspace, model_path, model_name: str, tags: dict | None = None,
                 properties: dict | None = None, description: str | None = None, trust: bool = False,
                 **_cloud) -> Model:
        """The next version of `model_name` with a copy of `model_path`; a pickle that would import
        something outside the safe list is refused unless `trust=True` (docs/models.md)."""
        registered = workspace.register(model_path, model_name, tags=tags, properties=properties,
                                        description=description or "", trust=trust)
        return Model._of(workspace, registered)

    @staticmethod
    def list(workspace: Workspace, name: str | None = None, tags=None, properties=None, latest: bool = False,
             **_cloud) -> list[Model]:
        """Versions, oldest first; `tags` as Azure takes them (["key"] or [["key", "value"]])."""
        found = [m for m in workspace.list(name, _tag_filters(tags)) if _has_properties(m, properties)]
        if latest:
            newest: dict[str, RegisteredModel] = {}
            for model in found:
                newest[model.name] = model
            found = list(newest.values())
        return [Model._of(workspace, model) for model in found]

    def download(self, target_dir: str | Path = ".", exist_ok: bool = False, exists_ok: bool | None = None) -> str:
        """A writable copy of the model's file or folder in `target_dir`; its path."""
        target = self.workspace.download(self.name, self.version, target_dir,
                                         exist_ok=exist_ok if exists_ok is None else exists_ok)
        return str(target)

    def add_tags(self, tags: dict) -> None:
        self._record = self.workspace.tag(self.name, self.version, add=tags)

    def remove_tags(self, tags: list[str]) -> None:
        self._record = self.workspace.tag(self.name, self.version, remove=list(tags))

    @staticmethod
    def get_model_path(model_name: str, version: int | None = None, _workspace: Workspace | None = None) -> str:
        """Inside a scoring script (AZUREML_MODEL_DIR set): where the model lies on this node, in Azure's
        layout. Elsewhere: its registered path in `_workspace`."""
        if _workspace is not None:
            return str(_workspace.get(model_name, version).path)
        root = os.environ.get("AZUREML_MODEL_DIR")
        if not root:
            raise ConfigError("Model.get_model_path: AZUREML_MODEL_DIR is not set (not in a scoring script); "
                              "pass _workspace= to find a registered model's path")
        return str(_served_path(Path(root), model_name, version))

    @staticmethod
    def deploy(workspace: Workspace, name: str, models: list[Model], inference_config=None, deployment_config=None,
               deployment_target=None, overwrite: bool = False, show_output: bool = False):
        """A service running `models` with the inference config: on this machine's Docker engine
        (LocalWebservice.deploy_configuration, the default) or on a fleet (FleetWebservice). Deploys before
        it returns (what it did: wait_for_deployment(show_output=True)); a failure raises
        WebserviceException with the reason and the log's last lines."""
        from fleetdeploy.azureml.webservice import deploy

        return deploy(workspace, name, models, inference_config, deployment_config, overwrite=overwrite,
                      show_output=show_output)

    def serialize(self) -> dict:
        return self._record.as_json()

    def __repr__(self) -> str:
        return f"Model(workspace={self.workspace!r}, name={self.name!r}, version={self.version})"

    @classmethod
    def _of(cls, workspace: Workspace, record: RegisteredModel) -> Model:
        model = cls.__new__(cls)
        model.workspace, model._record = workspace, record
        return model


def _tag_filters(tags) -> list[str]:
    filters = []
    for tag in tags or []:
        if isinstance(tag, list | tuple):
            key, value = tag
            filters.append(f"{key}={value}")
        else:
            filters.append(str(tag))
    return filters


def _has_properties(model: RegisteredModel, properties) -> bool:
    return all(model.properties.get(key) == value for key, value in _pairs(properties))


def _pairs(values) -> list[tuple]:
    if isinstance(values, dict):
        return list(values.items())
    return [tuple(item) for item in values or []]


def _matching(workspace: Workspace, name: str, version, tag: list[str], properties) -> RegisteredModel:
    if version is not None:
        return workspace.get(name, version)
    candidates = [m for m in reversed(workspace.list(name, tag)) if _has_properties(m, properties)]
    if not candidates:
        workspace.get(name)  # names what is registered when the name is unknown
        raise ConfigError(f"no version of model {name} matches tags {tag} and properties {properties}")
    return candidates[0]


def _served_path(root: Path, name: str, version: int | None) -> Path:
    # One model: AZUREML_MODEL_DIR is azureml-models/<name>/<version>; several: azureml-models.
    folder = root if root.parent.name == name else root / name
    if folder == root / name:
        numbers = sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit()) if folder.is_dir() else []
        chosen = version if version is not None else (numbers[-1] if numbers else None)
        folder = folder / str(chosen)
    entries = sorted(folder.iterdir()) if folder.is_dir() else []
    if not entries:
        raise ConfigError(f"Model.get_model_path: no model {name} under {root}")
    return entries[0] if len(entries) == 1 else folder
