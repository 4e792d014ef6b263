"""`InferenceConfig`: the entry script, its folder and its environment, as the SDK groups them."""

from __future__ import annotations

from pathlib import Path

from fleetdeploy.azureml.environment import Environment
from fleetdeploy.errors import ConfigError


class InferenceConfig:
    def __init__(self, entry_script: str, source_directory: str | None = None, environment: Environment | None = None,
                 runtime=None, conda_file=None, **_cloud):
        folder = Path(source_directory) if source_directory is not None else Path.cwd()
        script = folder / entry_script
        if not script.is_file():
            raise ConfigError(f"InferenceConfig: entry_script {script} does not exist")
        if environment is None and conda_file is not None:
            environment = Environment.from_conda_specification("inference-env", folder / conda_file)
        self.entry_script = entry_script
        self.source_directory = str(folder)
        self.environment = environment

    @property
    def entry_script_path(self) -> Path:
        return Path(self.source_directory) / self.entry_script

    def __repr__(self) -> str:
        return f"InferenceConfig(entry_script={self.entry_script!r}, source_directory={self.source_directory!r})"
