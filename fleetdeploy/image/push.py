"""Publishing a scoring image to the user's registry, for fleets that pull instead of receiving
tarballs (the spec's `registry:`). The image id survives push and pull, so nodes can still check they
hold exactly the image that was built."""

from __future__ import annotations

import docker.errors

from fleetdeploy.dockerhost import docker_client
from fleetdeploy.errors import DeployError
from fleetdeploy.image.builder import BuiltImage


def registry_name(image: BuiltImage, registry: str) -> str:
    """`fleetdeploy-mnist:abc` in `registry.local:5000/ml` -> `registry.local:5000/ml/fleetdeploy-mnist:abc`."""
    return f"{registry.rstrip('/')}/{image.tag}"


def push_image(image: BuiltImage, registry: str, *, say=lambda line: None, hint: str | None = None) -> str:
    """The image pushed to `registry` under registry_name(); that name. `hint`: what to check when the
    push fails (default: the controller's login to the registry)."""
    name = registry_name(image, registry)
    repository, tag = name.rsplit(":", 1)
    client = docker_client()
    client.images.get(image.image_id).tag(repository, tag)
    say(f"pushing {name}")
    hint = hint or f"check that the controller is logged in: docker login {registry.split('/')[0]}"
    try:
        for line in client.images.push(repository, tag, stream=True, decode=True):
            if "error" in line:
                detail = line.get("errorDetail", {}).get("message") or line["error"]
                raise DeployError(f"registry: pushing {name} failed: {detail} ({hint})")
    except docker.errors.APIError as exc:
        raise DeployError(f"registry: pushing {name} failed: {exc.explanation or exc} ({hint})") from None
    return name
