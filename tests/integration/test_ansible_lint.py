"""ansible-lint's production profile over the roles and playbooks, offline (.ansible-lint says so)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ANSIBLE_LINT = Path(sys.executable).parent / "ansible-lint"


@pytest.mark.integration
@pytest.mark.timeout(300)
def test_roles_and_playbooks_pass_the_production_profile():
    result = subprocess.run(
        [str(ANSIBLE_LINT), "--profile", "production", "--offline", "roles", "playbooks"],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "Profile 'production' was required, and it passed" in result.stderr + result.stdout


@pytest.mark.integration
@pytest.mark.timeout(300)
def test_lint_fails_on_a_role_that_breaks_the_rules(tmp_path):
    """The check can fail: a task without a name or FQCN is reported."""
    role = tmp_path / "roles" / "bad_role" / "tasks"
    role.mkdir(parents=True)
    (role / "main.yml").write_text("---\n- shell: echo hi\n")
    (tmp_path / ".ansible-lint").write_text((ROOT / ".ansible-lint").read_text())
    result = subprocess.run(
        [str(ANSIBLE_LINT), "--profile", "production", "--offline", "roles"],
        check=False,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert result.returncode != 0
    assert "fqcn" in result.stdout + result.stderr
