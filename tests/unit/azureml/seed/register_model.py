# The seed's "upload a retrained model" blocks (../shared/seeds, "Carga de un modelo reentrenado"), run
# as they are written there, with only the import lines changed (azureml.core -> fleetdeploy.azureml) and
# the `ws = Workspace.from_config()` line the seed's other blocks begin with.
import joblib

from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge

dataset_x, dataset_y = load_diabetes(return_X_y=True)

sk_model = Ridge().fit(dataset_x, dataset_y)

joblib.dump(sk_model, "sklearn_regression_model.pkl")

from fleetdeploy.azureml import Model, Workspace  # was: from azureml.core.model import Model

ws = Workspace.from_config()
model = Model.register(model_path="sklearn_regression_model.pkl",
                       model_name="sklearn_regression_model",
                       tags={'area': "diabetes", 'type': "regression"},
                       description="Ridge regression model to predict diabetes",
                       workspace=ws)
