"""A binary-payload entry script in Azure ML's @rawhttp style, imported the way Azure's docs show."""

from azureml.contrib.services.aml_request import AMLRequest, rawhttp  # noqa: F401
from azureml.contrib.services.aml_response import AMLResponse


def init():
    pass


@rawhttp
def run(request):
    if request.method == "GET":
        return {"query": request.args.get("q"), "agent": request.headers.get("X-Agent")}
    payload = request.get_data()
    return AMLResponse(payload[::-1], 201, {"Content-Type": "application/octet-stream", "X-Bytes": str(len(payload))})
