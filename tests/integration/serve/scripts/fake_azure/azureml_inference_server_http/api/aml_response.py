import json

from flask import Response


class AMLResponse(Response):
    def __init__(self, message, status_code, response_headers=None, json_str=False):
        if json_str:
            super().__init__(json.dumps(message), status=status_code, mimetype="application/json")
        else:
            super().__init__(message, status=status_code)
        for name, value in (response_headers or {}).items():
            self.headers[name] = value
