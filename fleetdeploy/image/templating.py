"""The image package's Jinja2 templates (Dockerfiles, the server wheel's pyproject.toml)."""

from __future__ import annotations

from importlib import resources

import jinja2


def template_text(name: str) -> str:
    return resources.files("fleetdeploy.image").joinpath("templates", name).read_text()


def render_template(name: str, **values) -> str:
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return environment.from_string(template_text(name)).render(**values)
