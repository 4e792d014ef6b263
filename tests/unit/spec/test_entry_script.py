"""The entry-script check reads the script with `ast`; these scripts would fail if they were imported."""

import pytest

from fleetdeploy.spec.entry_script import check_entry_script

GOOD = {
    "seed style": "def init():\n    global model\n\ndef run(raw_data):\n    return raw_data\n",
    "headers": "def init():\n    pass\n\ndef run(data, request_headers):\n    return data\n",
    "defaults and *args": "def init(path=None, *, debug=False):\n    pass\n\ndef run(*args):\n    return args\n",
    "decorated run": "from x import input_schema\ndef init(): pass\n@input_schema('data', None)\ndef run(data): pass\n",
    "imported functions": "raise SystemExit('never imported')\nfrom my_model import init, run\n",
    "inside try": "try:\n    import torch\n    def init(): pass\nexcept ImportError:\n    def init(): pass\ndef run(d): pass\n",
}

BAD = {
    "nothing": ("x = 1\n", ["defines no top-level function `init`", "defines no top-level function `run`"]),
    "nested": ("def main():\n    def init(): pass\n    def run(d): pass\n", ["`init`", "`run`"]),
    "init args": (
        "def init(model):\n    pass\ndef run(d): pass\n",
        ["`init` must be callable without arguments"],
    ),
    "run no args": ("def init(): pass\ndef run():\n    pass\n", ["`run` must accept the request data"]),
    "run three": ("def init(): pass\ndef run(a, b, c): pass\n", ["`run` must accept the request data"]),
    "run kwonly": ("def init(): pass\ndef run(a, *, b): pass\n", ["`run` must accept the request data"]),
    "async": ("async def init(): pass\ndef run(d): pass\n", ["`init` is async"]),
    "syntax": ("def init(:\n", ["syntax error in score.py:1:10"]),
}


@pytest.mark.parametrize("source", GOOD.values(), ids=GOOD.keys())
def test_scripts_the_server_can_call(tmp_path, source):
    script = tmp_path / "score.py"
    script.write_text(source)
    assert check_entry_script(script) == []


@pytest.mark.parametrize("source, expected", BAD.values(), ids=BAD.keys())
def test_scripts_it_cannot(tmp_path, source, expected):
    script = tmp_path / "score.py"
    script.write_text(source)
    found = [problem.problem for problem in check_entry_script(script)]
    assert len(found) == len(expected), found
    for want, got in zip(expected, found):
        assert want in got
