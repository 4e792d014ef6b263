"""`fleetdeploy invoke`'s bad input (fleetdeploy/cli/invoke_cmd.py); its requests: tests/integration/health."""

from click.testing import CliRunner


def test_invoke_without_a_request_and_without_a_spec_says_how_to_give_one(tmp_path):
    from fleetdeploy.cli import main

    done = CliRunner().invoke(main, ["invoke", "-i", str(tmp_path / "inv.yml"), "--service", "mnist"])
    assert done.exit_code == 2, done.output
    assert "give the request: --request-file FILE (or - for stdin); the spec has no sample request" in done.output
