"""Server settings, read from the environment the container role sets (docs/design.md) and
overridden by command-line flags. Every setting is reachable by env because the container's
entrypoint is a bare `fleetdeploy serve`."""

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from fleetdeploy.errors import ConfigError

LOG_LEVELS = ("debug", "info", "warning", "error")
HTTP_SERVERS = ("uvicorn", "granian")

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)(b?)\s*$", re.IGNORECASE)
_POWERS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4}


@dataclass(frozen=True)
class Settings:
    entry_script: Path  # absolute
    app_root: Path  # absolute; put on sys.path so the script can import its neighbours
    model_dir: Path | None  # absolute; exported as AZUREML_MODEL_DIR for init()
    host: str = "0.0.0.0"
    port: int = 6789
    workers: int = 1
    timeout: float = 60.0  # seconds a run() may take; 0 disables
    max_body: int = 100 * 1024**2
    log_level: str = "info"
    service: str = ""
    release: str = ""
    sample_request: str | None = None
    drain_timeout: float = 30.0  # seconds in-flight requests get after SIGTERM
    http: str = "uvicorn"  # the HTTP server under the app (HTTP_SERVERS; see docs/serve.md)
    error_detail: bool = False  # send run()'s exception text to clients (debugging only)
    # Limits against slow or hostile clients (docs/serve.md, "Limits"):
    read_timeout: float = 30.0  # seconds for a request's headers to arrive, and the longest stall of its body
    keep_alive: float = 5.0  # seconds an idle keep-alive connection is kept
    max_header_size: int = 64 * 1024  # bytes of request line and headers
    max_connections: int = 1000  # open connections per worker
    tls_cert: Path | None = None  # with tls_key: serve HTTPS (tls.py)
    tls_key: Path | None = None
    auth_key_file: Path | None = None  # key auth (auth.py)


def parse_size(text: str, field: str) -> int:
    """'100MiB', '10MB', '1g', '4096' -> bytes. k/m/g and KiB/MiB/GiB are binary, KB/MB/GB decimal."""
    match = _SIZE.match(str(text))
    if not match:
        raise ConfigError(f"{field}: {text!r} is not a size (examples: 100MiB, 10MB, 4096)")
    number, unit, binary, byte = match.groups()
    base = 1000 if (unit and byte and not binary) else 1024
    return int(float(number) * base ** _POWERS[unit.lower()])


def load_settings(flags: Mapping[str, object], env: Mapping[str, str] = os.environ) -> Settings:
    """Flags (None = not given) win over env. Raises ConfigError naming the flag/variable at fault."""

    def pick(flag: str, var: str, default=None):
        value = flags.get(flag)
        if value is not None:
            return value, f"--{flag.replace('_', '-')}"
        if env.get(var, "") != "":
            return env[var], var
        return default, var

    app_root = Path(env.get("AML_APP_ROOT") or os.getcwd()).resolve()
    entry_script = _entry_script(flags.get("entry_script"), env, app_root)
    if flags.get("entry_script") is not None and not env.get("AML_APP_ROOT"):
        app_root = entry_script.parent

    model_dir_value, source = pick("model_dir", "AZUREML_MODEL_DIR")
    model_dir = None
    if model_dir_value is not None:
        model_dir = Path(str(model_dir_value)).resolve()
        if not model_dir.is_dir():
            raise ConfigError(f"{source}: model directory {model_dir} does not exist")

    log_level = str(pick("log_level", "FLEETDEPLOY_LOG_LEVEL", "info")[0]).lower()
    if log_level not in LOG_LEVELS:
        raise ConfigError(f"log level {log_level!r} is not one of {', '.join(LOG_LEVELS)}")

    http, source = pick("http", "FLEETDEPLOY_HTTP", "uvicorn")
    http = str(http).lower()
    if http not in HTTP_SERVERS:
        raise ConfigError(f"{source}: {http!r} is not one of {', '.join(HTTP_SERVERS)}")

    tls_cert, tls_key = (_path(*pick(name, var)) for name, var in
                         (("tls_cert", "FLEETDEPLOY_TLS_CERT"), ("tls_key", "FLEETDEPLOY_TLS_KEY")))
    if (tls_cert is None) != (tls_key is None):
        raise ConfigError("--tls-cert and --tls-key (FLEETDEPLOY_TLS_CERT, FLEETDEPLOY_TLS_KEY) go together: "
                          "a certificate and its private key")

    return Settings(
        entry_script=entry_script,
        app_root=app_root,
        model_dir=model_dir,
        host=str(pick("host", "FLEETDEPLOY_HOST", "0.0.0.0")[0]),
        port=_number(*pick("port", "FLEETDEPLOY_PORT", 6789), int, low=1, high=65535),
        workers=_number(*pick("workers", "FLEETDEPLOY_WORKERS", 1), int, low=1, high=256),
        timeout=_number(*pick("timeout", "FLEETDEPLOY_TIMEOUT", 60.0), float, low=0),
        max_body=_size(*pick("max_body", "FLEETDEPLOY_MAX_BODY", "100MiB")),
        log_level=log_level,
        service=str(pick("service", "FLEETDEPLOY_SERVICE", "")[0]),
        release=str(pick("release", "FLEETDEPLOY_RELEASE", "")[0]),
        sample_request=pick("sample_request", "FLEETDEPLOY_SAMPLE_REQUEST")[0],
        drain_timeout=_number(*pick("drain_timeout", "FLEETDEPLOY_DRAIN_TIMEOUT", 30.0), float, low=0),
        http=http,
        error_detail=_flag(*pick("error_detail", "FLEETDEPLOY_ERROR_DETAIL", False)),
        read_timeout=_number(*pick("read_timeout", "FLEETDEPLOY_READ_TIMEOUT", 30.0), float, low=0.1),
        keep_alive=_number(*pick("keep_alive", "FLEETDEPLOY_KEEP_ALIVE", 5.0), float, low=0.1),
        max_header_size=_size(*pick("max_header_size", "FLEETDEPLOY_MAX_HEADER_SIZE", "64KiB")),
        max_connections=_number(*pick("max_connections", "FLEETDEPLOY_MAX_CONNECTIONS", 1000), int, low=1),
        tls_cert=tls_cert,
        tls_key=tls_key,
        auth_key_file=_path(*pick("auth_key_file", "FLEETDEPLOY_AUTH_KEY_FILE")),
    )


def _entry_script(flag_value, env: Mapping[str, str], app_root: Path) -> Path:
    if flag_value is not None:
        path, source = Path(str(flag_value)), "--entry-script"
    elif env.get("AZUREML_ENTRY_SCRIPT"):
        path, source = app_root / env["AZUREML_ENTRY_SCRIPT"], "AZUREML_ENTRY_SCRIPT"
    else:
        raise ConfigError("no entry script: pass --entry-script score.py or set AZUREML_ENTRY_SCRIPT")
    path = path.resolve()
    if not path.is_file():
        raise ConfigError(f"{source}: entry script {path} does not exist")
    return path


def _number(value, source: str, kind, low=None, high=None):
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{source}: {value!r} is not a{'n integer' if kind is int else ' number'}") from None
    if (low is not None and number < low) or (high is not None and number > high):
        bounds = f">= {low}" if high is None else f"between {low} and {high}"
        raise ConfigError(f"{source}: {number} must be {bounds}")
    return number


def _path(value, source: str) -> Path | None:
    return None if value is None else Path(str(value)).resolve()


def _flag(value, source: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{source}: {value!r} is not a yes/no value (true, false, 1, 0)")


def _size(value, source: str) -> int:
    return value if isinstance(value, int) else parse_size(str(value), source)
