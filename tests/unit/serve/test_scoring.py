import json
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from fleetdeploy.serve.entry_script import EntryScript
from fleetdeploy.serve.scoring import (
    BadRequest,
    NotSerialisable,
    RunFailed,
    RunTimedOut,
    Scorer,
    encode_result,
)


def scorer_for(run, timeout=0.0, takes_headers=False, schema_params=None, data_param="raw_data"):
    script = EntryScript(Path("score.py"), SimpleNamespace(), lambda: None, run, data_param, takes_headers,
                         schema_params)
    return Scorer(script, timeout)


def test_body_is_passed_as_is():
    assert scorer_for(lambda raw_data: raw_data).score('{"data": [1]}') == b'"{\\"data\\": [1]}"'


def test_numpy_results_are_serialised():
    result = {"array": np.arange(3), "scalar": np.float32(1.5), "int": np.int64(7), "nested": [np.bool_(True)]}
    assert json.loads(encode_result(result)) == {"array": [0, 1, 2], "scalar": 1.5, "int": 7, "nested": [True]}


def test_unserialisable_result_names_the_type():
    with pytest.raises(NotSerialisable, match=r"type set "):
        encode_result({"labels": {1, 2}})
    with pytest.raises(NotSerialisable, match=r"type pathlib.PosixPath"):
        encode_result(Path("/x"))


def test_run_exception_is_wrapped_with_its_cause():
    def run(raw_data):
        raise ValueError("bad pixel count: 3")

    with pytest.raises(RunFailed, match=r"run\(\) raised ValueError: bad pixel count: 3") as info:
        scorer_for(run).score("{}")
    assert isinstance(info.value.__cause__, ValueError)


def test_timeout_interrupts_python_code_even_past_except_exception():
    def run(raw_data):
        try:
            while True:
                time.sleep(0.01)
        except Exception:  # noqa: BLE001  (a user's catch-all must not swallow the timeout)
            return "swallowed"

    started = time.monotonic()
    with pytest.raises(RunTimedOut, match=r"within the scoring timeout of 0.2 s"):
        scorer_for(run, timeout=0.2).score("{}")
    assert time.monotonic() - started < 2


def test_timer_is_disarmed_after_a_fast_run():
    scorer = scorer_for(lambda raw_data: 1, timeout=0.05)
    scorer.score("{}")
    time.sleep(0.15)  # an armed timer would raise here


def test_headers_only_when_declared():
    seen = {}
    scorer = scorer_for(lambda raw_data, request_headers: seen.update(request_headers), takes_headers=True)
    scorer.score("{}", {"X-Request-Id": "abc"})
    assert seen == {"X-Request-Id": "abc"}


def test_query_string_becomes_json_like_azure():
    scorer = scorer_for(lambda raw_data: json.loads(raw_data))
    result = json.loads(scorer.score_query("a=1&b=[1,2]&c=text&d=null&foo=x&foo=y"))
    assert result == {"a": 1, "b": [1, 2], "c": "text", "d": None, "foo": ["x", "y"]}


def test_schema_decorated_run_gets_named_arguments():
    import inspect

    params = (inspect.Parameter("values", inspect.Parameter.POSITIONAL_OR_KEYWORD),
              inspect.Parameter("scale", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=2))
    scorer = scorer_for(lambda values, scale: sum(values) * scale, schema_params=params)
    assert scorer.score('{"values": [1, 2]}') == b"6"
    with pytest.raises(BadRequest, match="no value for run\\(\\)'s 'values' parameter"):
        scorer.score('{"other": 1}')
    with pytest.raises(BadRequest, match="must be a JSON object"):
        scorer.score("[1, 2]")


@pytest.mark.parametrize("raised", [SystemExit(3), KeyboardInterrupt()])
def test_run_raising_a_base_exception_fails_that_request_only(raised):
    def run(raw_data):
        raise raised

    with pytest.raises(RunFailed, match=rf"run\(\) raised {type(raised).__name__}"):
        scorer_for(run).score("{}")


def test_deeply_nested_json_is_a_bad_request_not_a_crash():
    deep = "[" * 100_000 + "]" * 100_000
    with pytest.raises(BadRequest, match="nested too deeply"):
        scorer_for(lambda raw_data: raw_data).score_query(f"data={deep}")
    with pytest.raises(NotSerialisable, match="nested too deeply"):
        nested = []
        for _ in range(100_000):
            nested = [nested]
        encode_result(nested)


def test_last_run_ms_times_run_alone():
    scorer = scorer_for(lambda raw_data: time.sleep(0.05) or raw_data)
    scorer.score("{}")
    assert 45 < scorer.last_run_ms < 1000
