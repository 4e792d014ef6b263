"""Building and saving scoring images (Docker SDK). See docs/image.md."""

from fleetdeploy.image.builder import BuiltImage, ImageBuildError, build_scoring_image
from fleetdeploy.image.environment import EnvironmentInput, ResolvedEnvironment, resolve_environment
from fleetdeploy.image.prune import prune_saved_images, prune_scoring_images
from fleetdeploy.image.save import SavedImage, save_image

__all__ = [
    "BuiltImage",
    "EnvironmentInput",
    "ImageBuildError",
    "ResolvedEnvironment",
    "SavedImage",
    "build_scoring_image",
    "prune_saved_images",
    "prune_scoring_images",
    "resolve_environment",
    "save_image",
]
