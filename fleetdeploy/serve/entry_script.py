"""Loading a user's entry script and deciding how run() is called, the way Azure ML's server does:
run(raw_body_string), run(..., request_headers=...) when declared, and run(**json_object) when the
function carries inference-schema's @input_schema."""

import importlib.util
import inspect
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from fleetdeploy.serve.errors import EntryScriptError
from fleetdeploy.serve.rawhttp import provide_azure_modules, rawhttp_requested

_AZURE_CONTRACT = "Azure ML entry scripts define init() and run(raw_data)"


@dataclass(frozen=True)
class EntryScript:
    path: Path
    module: ModuleType
    init: Callable[[], object]
    run: Callable[..., object]
    data_param: str  # the parameter that receives the body (first one that is not request_headers)
    takes_headers: bool
    schema_params: tuple[inspect.Parameter, ...] | None  # set when @input_schema-decorated
    rawhttp: bool = False  # @rawhttp: run() gets the Flask request and may return a Flask response


def load_entry_script(path: Path, app_root: Path) -> EntryScript:
    """Import the script (running its module-level code, not init()) and check its functions."""
    module = _import(path, app_root)
    for name in ("init", "run"):
        if not callable(getattr(module, name, None)):
            raise EntryScriptError(f"{path}: defines no {name}() function ({_AZURE_CONTRACT})")
    run = module.run
    params = list(inspect.signature(run).parameters.values())
    bad = [p.name for p in params if p.kind not in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    if bad:
        raise EntryScriptError(
            f"{path}: run() cannot take positional-only, *args or **kwargs parameters ({', '.join(bad)})"
        )
    takes_headers = any(p.name == "request_headers" for p in params)
    data_params = [p for p in params if p.name != "request_headers"]
    if not data_params:
        raise EntryScriptError(f"{path}: run() takes no argument for the request data ({_AZURE_CONTRACT})")
    schema_decorated, raw = _schema_decorated(run), rawhttp_requested()
    if schema_decorated and raw:
        raise EntryScriptError(f"{path}: run() cannot be decorated with both @rawhttp and @input_schema")
    return EntryScript(
        path=path,
        module=module,
        init=module.init,
        run=run,
        data_param=data_params[0].name,
        takes_headers=takes_headers,
        schema_params=tuple(data_params) if schema_decorated else None,
        rawhttp=raw,
    )


def _import(path: Path, app_root: Path) -> ModuleType:
    # Scripts import their neighbours (utils.py beside score.py), as on Azure.
    if str(app_root) not in sys.path:
        sys.path.insert(0, str(app_root))
    # The file's own name keeps pickles of classes defined in the script loadable; fall back when it
    # would shadow a module already imported (a script called json.py).
    name = path.stem if path.stem.isidentifier() and path.stem not in sys.modules else "azureml_entry_script"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise EntryScriptError(f"{path}: cannot be imported as a Python module (is it a .py file?)")
    module = importlib.util.module_from_spec(spec)
    provide_azure_modules(path.read_text(errors="replace"))
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        del sys.modules[name]
        raise EntryScriptError(f"{exc.filename}:{exc.lineno}: syntax error: {exc.msg}") from exc
    except BaseException as exc:  # sys.exit() or KeyboardInterrupt at import time is a broken script too, never exit 0
        del sys.modules[name]
        raise EntryScriptError(f"{_where(exc, path)}: importing the entry script failed: {_one_line(exc)}") from exc
    return module


def _where(exc: BaseException, path: Path) -> str:
    """file:line of the deepest frame in the user's own script (else the script itself)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename) == path]
    return f"{path}:{frames[-1].lineno}" if frames else str(path)


def _one_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".splitlines()[0]


def _schema_decorated(run: Callable) -> bool:
    # inference-schema lives in the user's environment, if anywhere; never a dependency of ours.
    try:
        from inference_schema.schema_util import is_schema_decorated
    except ImportError:
        return False
    return is_schema_decorated(run)
