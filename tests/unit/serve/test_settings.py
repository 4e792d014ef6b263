import pytest

from fleetdeploy.errors import ConfigError
from fleetdeploy.serve.settings import load_settings, parse_size


@pytest.mark.parametrize(
    ("text", "expected"),
    [("100MiB", 100 * 1024**2), ("10MB", 10_000_000), ("1g", 1024**3), ("4096", 4096), ("1.5KiB", 1536),
     ("2 kb", 2000)],
)
def test_parse_size(text, expected):
    assert parse_size(text, "FLEETDEPLOY_MAX_BODY") == expected


def test_parse_size_names_the_field():
    with pytest.raises(ConfigError, match=r"FLEETDEPLOY_MAX_BODY: 'lots' is not a size"):
        parse_size("lots", "FLEETDEPLOY_MAX_BODY")


@pytest.fixture
def app(tmp_path):
    (tmp_path / "score.py").write_text("def init(): pass\ndef run(raw_data): return raw_data\n")
    (tmp_path / "model").mkdir()
    return tmp_path


def test_everything_settable_by_env_as_in_the_container(app):
    env = {
        "AML_APP_ROOT": str(app), "AZUREML_ENTRY_SCRIPT": "score.py", "AZUREML_MODEL_DIR": str(app / "model"),
        "FLEETDEPLOY_SERVICE": "mnist", "FLEETDEPLOY_RELEASE": "abc123", "FLEETDEPLOY_PORT": "7000",
        "FLEETDEPLOY_WORKERS": "3", "FLEETDEPLOY_TIMEOUT": "2.5", "FLEETDEPLOY_MAX_BODY": "1MiB",
        "FLEETDEPLOY_LOG_LEVEL": "WARNING", "FLEETDEPLOY_SAMPLE_REQUEST": '{"data": []}',
        "FLEETDEPLOY_HOST": "127.0.0.1", "FLEETDEPLOY_DRAIN_TIMEOUT": "5", "FLEETDEPLOY_HTTP": "Granian",
        "FLEETDEPLOY_ERROR_DETAIL": "yes", "FLEETDEPLOY_READ_TIMEOUT": "7.5", "FLEETDEPLOY_KEEP_ALIVE": "2",
        "FLEETDEPLOY_MAX_HEADER_SIZE": "8KiB", "FLEETDEPLOY_MAX_CONNECTIONS": "50",
    }
    s = load_settings({}, env)
    assert (s.entry_script, s.app_root, s.model_dir) == (app / "score.py", app, app / "model")
    assert (s.service, s.release, s.port, s.workers, s.timeout) == ("mnist", "abc123", 7000, 3, 2.5)
    assert (s.max_body, s.log_level, s.sample_request) == (1024**2, "warning", '{"data": []}')
    assert (s.host, s.drain_timeout, s.http) == ("127.0.0.1", 5.0, "granian")
    assert (s.error_detail, s.read_timeout, s.keep_alive, s.max_header_size, s.max_connections) == (
        True, 7.5, 2.0, 8192, 50)


def test_flags_win_over_env(app):
    env = {"AZUREML_ENTRY_SCRIPT": "missing.py", "FLEETDEPLOY_PORT": "7000", "FLEETDEPLOY_WORKERS": "3"}
    s = load_settings({"entry_script": str(app / "score.py"), "port": 8000, "workers": None}, env)
    assert (s.port, s.workers, s.app_root) == (8000, 3, app)


def test_defaults(app):
    s = load_settings({"entry_script": str(app / "score.py")}, {})
    assert (s.port, s.workers, s.timeout, s.max_body, s.host) == (6789, 1, 60.0, 100 * 1024**2, "0.0.0.0")
    assert s.model_dir is None
    assert (s.error_detail, s.read_timeout, s.keep_alive, s.max_header_size, s.max_connections) == (
        False, 30.0, 5.0, 64 * 1024, 1000)


@pytest.mark.parametrize(
    ("flags", "env", "message"),
    [
        ({}, {}, "no entry script: pass --entry-script"),
        ({"entry_script": "nope.py"}, {}, "--entry-script: entry script .*nope.py does not exist"),
        ({}, {"AZUREML_ENTRY_SCRIPT": "nope.py"}, "AZUREML_ENTRY_SCRIPT: entry script .*nope.py does not exist"),
        ({"model_dir": "no-such-dir"}, {}, "--model-dir: model directory .*no-such-dir does not exist"),
        ({}, {"FLEETDEPLOY_PORT": "http"}, "FLEETDEPLOY_PORT: 'http' is not an integer"),
        ({"port": 70000}, {}, "--port: 70000 must be between 1 and 65535"),
        ({}, {"FLEETDEPLOY_WORKERS": "0"}, "FLEETDEPLOY_WORKERS: 0 must be between 1 and 256"),
        ({}, {"FLEETDEPLOY_TIMEOUT": "-1"}, "FLEETDEPLOY_TIMEOUT: -1.0 must be >= 0"),
        ({}, {"FLEETDEPLOY_MAX_BODY": "big"}, "FLEETDEPLOY_MAX_BODY: 'big' is not a size"),
        ({}, {"FLEETDEPLOY_LOG_LEVEL": "loud"}, "log level 'loud' is not one of"),
        ({}, {"FLEETDEPLOY_ERROR_DETAIL": "maybe"}, "FLEETDEPLOY_ERROR_DETAIL: 'maybe' is not a yes/no value"),
        ({"read_timeout": 0}, {}, "--read-timeout: 0.0 must be >= 0.1"),
        ({}, {"FLEETDEPLOY_MAX_CONNECTIONS": "0"}, "FLEETDEPLOY_MAX_CONNECTIONS: 0 must be >= 1"),
        ({}, {"FLEETDEPLOY_MAX_HEADER_SIZE": "huge"}, "FLEETDEPLOY_MAX_HEADER_SIZE: 'huge' is not a size"),
        ({"tls_cert": "cert.pem"}, {}, "--tls-cert and --tls-key .* go together"),
        ({}, {"FLEETDEPLOY_TLS_KEY": "key.pem"}, "--tls-cert and --tls-key .* go together"),
    ],
)
def test_bad_settings_name_the_flag_or_variable(app, monkeypatch, flags, env, message):
    monkeypatch.chdir(app)
    names_the_script = "entry_script" in flags or "AZUREML_ENTRY_SCRIPT" in env or message.startswith("no entry")
    if not names_the_script:
        flags = {**flags, "entry_script": "score.py"}  # a valid script, so the error is the one under test
    with pytest.raises(ConfigError, match=message):
        load_settings(flags, env)


def test_http_server_flag_wins_and_unknown_ones_are_named(app):
    env = {"AML_APP_ROOT": str(app), "AZUREML_ENTRY_SCRIPT": "score.py", "FLEETDEPLOY_HTTP": "granian"}
    assert load_settings({"http": "uvicorn"}, env).http == "uvicorn"
    with pytest.raises(ConfigError, match=r"FLEETDEPLOY_HTTP: 'gunicorn' is not one of uvicorn, granian"):
        load_settings({}, {**env, "FLEETDEPLOY_HTTP": "gunicorn"})
