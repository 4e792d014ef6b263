import textwrap

import pytest

from fleetdeploy.serve.entry_script import load_entry_script
from fleetdeploy.serve.errors import EntryScriptError


def script(tmp_path, source: str, name: str = "score.py"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return path


def test_plain_script(tmp_path):
    loaded = load_entry_script(script(tmp_path, "def init(): pass\ndef run(raw_data): return 1\n"), tmp_path)
    assert (loaded.data_param, loaded.takes_headers, loaded.schema_params) == ("raw_data", False, None)


def test_request_headers_declared(tmp_path):
    path = script(tmp_path, "def init(): pass\ndef run(request_headers, data): return 1\n")
    loaded = load_entry_script(path, tmp_path)
    assert (loaded.data_param, loaded.takes_headers) == ("data", True)


def test_script_can_import_its_neighbours(tmp_path):
    script(tmp_path, "LABEL = 'neighbour'\n", name="helpers_for_score.py")
    path = script(tmp_path, "from helpers_for_score import LABEL\ndef init(): pass\ndef run(d): return LABEL\n")
    assert load_entry_script(path, tmp_path).run("x") == "neighbour"


@pytest.mark.parametrize("missing", ["init", "run"])
def test_missing_function_is_named(tmp_path, missing):
    other = "run(raw_data)" if missing == "init" else "init()"
    path = script(tmp_path, f"def {other}: pass\n", name=f"no_{missing}.py")
    with pytest.raises(EntryScriptError, match=rf"no_{missing}.py: defines no {missing}\(\) function"):
        load_entry_script(path, tmp_path)


def test_syntax_error_gives_file_and_line(tmp_path):
    path = script(tmp_path, "def init():\n    pass\n\ndef run(raw_data)\n    return 1\n", name="broken.py")
    with pytest.raises(EntryScriptError, match=r"broken.py:4: syntax error"):
        load_entry_script(path, tmp_path)


def test_failing_import_gives_file_line_and_error(tmp_path):
    path = script(tmp_path, "import os\nimport not_installed_package_xyz\n", name="needs_pkg.py")
    with pytest.raises(EntryScriptError, match=r"needs_pkg.py:2: .*ModuleNotFoundError: No module named"):
        load_entry_script(path, tmp_path)


def test_varargs_run_is_refused(tmp_path):
    path = script(tmp_path, "def init(): pass\ndef run(*args): return 1\n", name="varargs.py")
    with pytest.raises(EntryScriptError, match=r"run\(\) cannot take .*\(args\)"):
        load_entry_script(path, tmp_path)


def test_run_without_a_data_parameter_is_refused(tmp_path):
    path = script(tmp_path, "def init(): pass\ndef run(request_headers): return 1\n", name="nodata.py")
    with pytest.raises(EntryScriptError, match=r"run\(\) takes no argument for the request data"):
        load_entry_script(path, tmp_path)


def test_input_schema_decorated_run_takes_named_inputs(tmp_path):
    pytest.importorskip("inference_schema")
    path = script(tmp_path, """
        from inference_schema.schema_decorators import input_schema, output_schema
        from inference_schema.parameter_types.standard_py_parameter_type import StandardPythonParameterType

        def init(): pass

        @input_schema("values", StandardPythonParameterType([1.0, 2.0]))
        @output_schema(StandardPythonParameterType(3.0))
        def run(values):
            return sum(values)
        """, name="schema_score.py")
    loaded = load_entry_script(path, tmp_path)
    assert [p.name for p in loaded.schema_params] == ["values"]
