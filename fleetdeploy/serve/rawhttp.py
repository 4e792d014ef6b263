"""Azure ML's @rawhttp entry scripts: run(request) receives the HTTP request as a Flask request object
and may return an AMLResponse (a Flask response) with its own status, headers and bytes.

Such scripts import `azureml.contrib.services.aml_request` (older images) or the same module from
azureml-inference-server-http; both need Flask, which the user's environment then has. Nothing here is
imported unless the script uses @rawhttp."""

import importlib
import sys

_AZURE_MODULES = ("azureml.contrib.services.aml_request", "azureml_inference_server_http.api.aml_request")


def provide_azure_modules(source: str) -> None:
    """Let `from azureml.contrib.services.aml_request import rawhttp` work where only
    azureml-inference-server-http is installed (Azure's own server aliases these modules the same way)."""
    if "azureml.contrib.services" not in source:
        return
    for name in ("aml_request", "aml_response"):
        contrib = f"azureml.contrib.services.{name}"
        try:
            importlib.import_module(contrib)
        except ImportError:
            try:
                sys.modules[contrib] = importlib.import_module(f"azureml_inference_server_http.api.{name}")
            except ImportError:
                return  # the script's own import will fail with a clear ModuleNotFoundError


def rawhttp_requested() -> bool:
    """True once a loaded script applied @rawhttp (a module-level flag, as in Azure's server)."""
    return any(getattr(sys.modules.get(name), "_rawHttpRequested", False) for name in _AZURE_MODULES)


def flask_request(request, body: bytes):
    """A Flask request built from the app's Request (app.py), as Azure passes `flask.request` to run()."""
    import io

    from flask import Request

    host, port, http_version, scheme = request.server()
    environ = {
        "REQUEST_METHOD": request.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": request.path,
        "QUERY_STRING": request.query_string,
        "SERVER_NAME": host,
        "SERVER_PORT": str(port),
        "SERVER_PROTOCOL": f"HTTP/{http_version}",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scheme,
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for raw_name, value in request.header_items():
        name = raw_name.upper().replace("-", "_")
        if name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            environ[name] = value
        else:
            key = f"HTTP_{name}"
            environ[key] = f"{environ[key]},{value}" if key in environ else value
    return Request(environ)


def is_response(result: object) -> bool:
    return hasattr(result, "get_data") and hasattr(result, "status_code") and hasattr(result, "headers")


def unpack_response(response) -> tuple[int, bytes, str, tuple]:
    """(status, body, content type, other headers) of a Flask/werkzeug response returned by run()."""
    headers = tuple(
        (name.lower(), str(value))
        for name, value in response.headers.items()
        if name.lower() not in ("content-type", "content-length")
    )
    content_type = response.headers.get("Content-Type") or "application/octet-stream"
    return response.status_code, response.get_data(), content_type, headers
