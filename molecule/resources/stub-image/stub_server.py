"""A minimal Azure ML-style scoring server for testing the roles: loads AZUREML_ENTRY_SCRIPT from
AML_APP_ROOT, calls init() (a failing init() exits with its traceback, as the real server does),
then answers GET /ready, GET /version and POST /score with run(body)."""

import importlib.util
import json
import os
import sys
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def load_entry_script():
    path = os.path.join(os.environ.get("AML_APP_ROOT", "."), os.environ["AZUREML_ENTRY_SCRIPT"])
    spec = importlib.util.spec_from_file_location("score", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Handler(BaseHTTPRequestHandler):
    def _answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/ready":
            self._answer(200, "ready")
        elif self.path == "/version":
            self._answer(200, {"release": os.environ.get("FLEETDEPLOY_RELEASE")})
        else:
            self._answer(404, "not found")

    def do_POST(self):
        if self.path != "/score":
            return self._answer(404, "not found")
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        try:
            self._answer(200, SCORE.run(body))
        except Exception:  # noqa: BLE001 - any error in user code becomes a 500, as in Azure ML
            self._answer(500, traceback.format_exc())


if __name__ == "__main__":
    SCORE = load_entry_script()
    try:
        SCORE.init()
    except Exception:  # noqa: BLE001 - any init() error stops the server with its traceback
        traceback.print_exc()
        sys.exit(1)
    ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("FLEETDEPLOY_PORT", "6789"))), Handler).serve_forever()
