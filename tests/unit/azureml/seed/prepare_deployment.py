# The seed's deployment block up to the deploy call (../shared/seeds, "Implementación local"), with only
# the import lines changed; Model.deploy and LocalWebservice are not part of fleetdeploy.azureml yet.
from fleetdeploy.azureml import Environment, InferenceConfig, Model, Workspace  # were the azureml.core imports

ws = Workspace.from_config()
model = Model(ws, 'sklearn_mnist')


myenv = Environment.get(workspace=ws, name="tutorial-env", version="1")
inference_config = InferenceConfig(entry_script="score.py", environment=myenv)
