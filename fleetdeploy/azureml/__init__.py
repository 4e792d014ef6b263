"""The Azure ML SDK's names for the seed's Python, with no cloud: `from fleetdeploy.azureml import
Workspace, Model, Environment, InferenceConfig, LocalWebservice` in place of the `azureml.core` imports, the rest of the
code unchanged (docs/azureml.md). Over the same registry the CLI uses (fleetdeploy/registry.py)."""

from fleetdeploy.azureml.environment import Environment
from fleetdeploy.azureml.inference import InferenceConfig
from fleetdeploy.azureml.model import Model
from fleetdeploy.azureml.webservice import FleetWebservice, LocalWebservice, Webservice, WebserviceException
from fleetdeploy.azureml.workspace import Workspace

__all__ = ["Environment", "FleetWebservice", "InferenceConfig", "LocalWebservice", "Model", "Webservice",
           "WebserviceException", "Workspace"]
