"""GET /swagger.json for entry scripts decorated with inference-schema's @input_schema/@output_schema,
built from the schemas the decorators record (the user's environment provides inference-schema)."""

from fleetdeploy.serve.entry_script import EntryScript


def swagger_document(script: EntryScript, service: str) -> dict | None:
    try:
        from inference_schema.schema_util import get_input_schema, get_output_schema
    except ImportError:
        return None
    if script.schema_params is None:
        return None
    input_schema, output_schema = get_input_schema(script.run), get_output_schema(script.run)
    error = {"type": "object", "properties": {"message": {"type": "string"}}}
    return {
        "swagger": "2.0",
        "info": {"title": service or script.path.stem, "description": f"scoring service for {script.path.name}",
                 "version": "1.0"},
        "schemes": ["http"],
        "consumes": ["application/json"],
        "produces": ["application/json"],
        "paths": {
            "/": {"get": {"operationId": "Liveness", "responses": {"200": {"description": "Healthy"}}}},
            "/score": {
                "post": {
                    "operationId": "RunMLService",
                    "parameters": [{"name": "serviceInputPayload", "in": "body", "required": True,
                                    "schema": input_schema or {"type": "object"}}],
                    "responses": {
                        "200": {"description": "run()'s result", "schema": output_schema or {}},
                        "default": {"description": "an error", "schema": error},
                    },
                }
            },
        },
    }
