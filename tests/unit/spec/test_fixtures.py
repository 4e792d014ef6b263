"""Data-driven spec tests: every tests/fixtures/specs/valid-*.yml loads, and every invalid-*.yml fails
with exactly the problems its `# expect:` lines list (as `<line or ->: <dotted.path>: <problem ...>`)."""

from pathlib import Path

import pytest

from fleetdeploy.errors import ConfigError
from fleetdeploy.spec import SpecError, load_spec

FIXTURES = Path(__file__).parents[2] / "fixtures" / "specs"
VALID = sorted(FIXTURES.glob("valid-*.yml"))
INVALID = sorted(FIXTURES.glob("invalid-*.yml"))


def expected_problems(path: Path) -> list[str]:
    return [
        line.split("# expect:", 1)[1].strip() for line in path.read_text().splitlines() if "# expect:" in line
    ]


def test_fixtures_exist():
    assert len(VALID) >= 3 and len(INVALID) >= 10


@pytest.mark.parametrize("path", VALID, ids=lambda path: path.stem)
def test_valid_spec_loads(path):
    spec = load_spec(path)
    assert spec.source == path.resolve()
    assert all(model.path.is_absolute() and model.path.exists() for model in spec.models)


@pytest.mark.parametrize("path", INVALID, ids=lambda path: path.stem)
def test_invalid_spec_reports_every_problem(path):
    expected = expected_problems(path)
    assert expected, f"{path.name} has no `# expect:` lines"
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    # Compare each issue's "line: path: message (hint)" (str(issue) without the file name) with a prefix.
    reported = [f"{issue.line or '-'}: " + str(issue).split(": ", 1)[1] for issue in caught.value.issues]
    assert len(reported) == len(expected), "\n".join(reported)
    for want in expected:
        assert any(line.startswith(want) for line in reported), f"missing {want!r} in:\n" + "\n".join(
            reported
        )


def test_every_issue_names_the_file(tmp_path):
    with pytest.raises(SpecError) as caught:
        load_spec(FIXTURES / "invalid-values.yml")
    text = str(caught.value)
    assert text.startswith("15 problems in the deployment spec:")
    assert all(str(FIXTURES / "invalid-values.yml") in line for line in text.splitlines()[1:])


def test_missing_spec_file_says_how_to_make_one(tmp_path):
    with pytest.raises(ConfigError, match=r"no such deployment spec \(write one with `fleetdeploy init`\)"):
        load_spec(tmp_path / "fleetdeploy.yml")


@pytest.mark.parametrize("text", ["", "- a\n- b\n", "just a string\n"])
def test_spec_must_be_a_mapping(tmp_path, text):
    path = tmp_path / "fleetdeploy.yml"
    path.write_text(text)
    with pytest.raises(SpecError, match="must be a mapping of settings"):
        load_spec(path)
