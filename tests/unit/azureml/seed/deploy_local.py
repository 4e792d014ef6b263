# The seed's local deployment block (../shared/seeds, "Implementación local"), with only the import
# lines changed (the seed uses LocalWebservice without importing it; it is imported here).
from fleetdeploy.azureml import Webservice, LocalWebservice  # was: from azureml.core.webservice import Webservice
from fleetdeploy.azureml import InferenceConfig  # was: from azure.core.model import InferenceConfig
from fleetdeploy.azureml import Environment  # was: from azureml.core.environment import Environment
from fleetdeploy.azureml import Workspace  # was: from azureml.core import Workspace
from fleetdeploy.azureml import Model  # was: from azureml.core.model import Model

ws = Workspace.from_config()
model = Model(ws, 'sklearn_mnist')


myenv = Environment.get(workspace=ws, name="tutorial-env", version="1")
inference_config = InferenceConfig(entry_script="score.py", environment=myenv)

deployment_config = LocalWebservice.deploy_configuration(port=6789)

local_service = Model.deploy(workspace=ws, 
                       name='sklearn-mnist-local', 
                       models=[model], 
                       inference_config=inference_config, 
                       deployment_config = deployment_config)

local_service.wait_for_deployment(show_output=True)
print(f"Scoring URI is : {local_service.scoring_uri}")
