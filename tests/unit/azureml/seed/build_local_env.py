# The seed's "recreate the environment locally" block (../shared/seeds), with only the import line changed.
from fleetdeploy.azureml import Environment, Workspace  # were the azureml.core imports

ws = Workspace.from_config()
myenv = Environment.get(workspace=ws, name="tutorial-env", version="1")
myenv.build_local(workspace=ws, useDocker=False) #Creates conda environment.
