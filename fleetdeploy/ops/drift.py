"""Drift: how what runs on a node differs from what it should run. Pure functions over gathered data.

Two references, both needing no image build:
- the node's own record of its active release (releases/<release>.json, written by apply): catches
  changes made behind fleetdeploy's back — a `score.py` edited on the node, a model file replaced, a
  container started by hand with other settings, an image re-tagged;
- the deployment spec on the controller (when given): code, model files and container settings are
  hashed and compared with that record — "the spec wants a different score.py than the node serves".
  The Python environment is the one part not compared this way: knowing its image id needs a build,
  which `apply` does (docs/operations.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from fleetdeploy.ops.target import NODE_ROOT

APP_ROOT = "/var/azureml-app"  # fleet_service's mount points inside the container
MODELS_MOUNT = f"{APP_ROOT}/azureml-models"


@dataclass(frozen=True)
class Difference:
    subject: str  # what differs: a file, a setting, the image
    message: str  # what was found, what was expected

    def __str__(self) -> str:
        return f"{self.subject}: {self.message}"


@dataclass(frozen=True)
class Desired:
    """What the spec on the controller asks for, in the terms of a release manifest."""

    code_files: dict[str, str]
    models: dict[str, dict[str, str]]  # "<name>/<version>" -> {relative path: sha256}
    settings: dict
    host_settings: dict[str, dict] = field(default_factory=dict)  # hosts whose inventory overrides settings

    def for_host(self, host: str) -> Desired:
        """What `host` is judged against: its own settings when its inventory overrides some."""
        mine = self.host_settings.get(host)
        return self if mine is None else replace(self, settings=mine, host_settings={})


# The container env that carries each release setting (fleet_service's vars/main.yml).
_ENV_SETTINGS = {
    "FLEETDEPLOY_WORKERS": "workers",
    "FLEETDEPLOY_TIMEOUT": "timeout",
    "FLEETDEPLOY_MAX_BODY": "max_body",
    "FLEETDEPLOY_LOG_LEVEL": "log_level",
    "AZUREML_ENTRY_SCRIPT": "entry_script",
}


def node_drift(report: dict, root: str = NODE_ROOT) -> list[Difference]:
    """Differences between what runs on a node (fleet_inspect's report with hash_files) and the node's
    record of its active release."""
    active = report.get("active") or {}
    manifest = report.get("manifest")
    release = active.get("release")
    if not report.get("deployed"):
        return []
    if not manifest:
        return [
            Difference(f"releases/{release}.json", "missing: the node has no record of its active release")
        ]
    found: list[Difference] = []
    instance = report.get("instance") or {}
    if instance.get("kind") == "container" and instance.get("exists"):
        found += container_drift(instance, manifest, release, f"{root}/{manifest.get('service')}")
    files = report.get("files")
    if files is not None:
        found += files_drift("code", files.get("code"), manifest.get("code_files") or {}, "on the node")
        wanted_models = {
            f"{m['name']}/{m['version']}": m.get("files") or {} for m in manifest.get("models") or []
        }
        for key, wanted in wanted_models.items():
            found += files_drift(f"models/{key}", (files.get("models") or {}).get(key), wanted, "on the node")
    return found


def container_drift(
    instance: dict, manifest: dict, release: str | None, service_dir: str
) -> list[Difference]:
    found = []
    name = instance.get("name")
    label = (instance.get("labels") or {}).get("fleetdeploy.release")
    if label != release:
        found.append(
            Difference(f"container {name}", f"runs release {label}, the node's active release is {release}")
        )
    if manifest.get("image_id") and instance.get("image_id") != manifest["image_id"]:
        found.append(
            Difference(
                "image",
                f"container {name} runs image {_short(instance.get('image_id'))}, release {release} is "
                f"{manifest.get('image')} ({_short(manifest['image_id'])})",
            )
        )
    env = instance.get("env") or {}
    settings = manifest.get("settings") or {}
    expected_env = {"FLEETDEPLOY_RELEASE": release, "FLEETDEPLOY_SERVICE": manifest.get("service")}
    for variable, setting in _ENV_SETTINGS.items():
        if setting in settings:
            expected_env[variable] = settings[setting]
    for variable, wanted in expected_env.items():
        if wanted is not None and not _same(env.get(variable), wanted):
            found.append(
                Difference(f"env {variable}", f"is {env.get(variable)!r}, release {release} sets {wanted!r}")
            )
    found += _resources_drift(instance, settings, release)
    found += _mounts_drift(instance, manifest, service_dir)
    return found


def files_drift(where: str, on_disk: dict | None, wanted: dict[str, str], place: str) -> list[Difference]:
    """Each file edited, missing or added, named by its path."""
    if on_disk is None:
        return [Difference(where, f"folder missing {place}")]
    found = []
    for path in sorted(set(wanted) | set(on_disk)):
        subject = f"{where}/{path}"
        if path not in on_disk:
            found.append(Difference(subject, f"missing {place}"))
        elif path not in wanted:
            found.append(Difference(subject, f"added {place} (not in the release)"))
        elif on_disk[path] != wanted[path]:
            found.append(
                Difference(
                    subject,
                    f"changed {place}: sha256 {_short(on_disk[path])}, release has {_short(wanted[path])}",
                )
            )
    return found


def spec_drift(manifest: dict | None, desired: Desired) -> list[Difference]:
    """How the node's active release differs from what the spec on the controller asks for."""
    if not manifest:
        return []
    found = files_drift(
        "spec code", manifest.get("code_files") or {}, desired.code_files, "in the deployed release"
    )
    deployed_models = {
        f"{m['name']}/{m['version']}": m.get("files") or {} for m in manifest.get("models") or []
    }
    for key in sorted(set(deployed_models) | set(desired.models)):
        if key not in deployed_models:
            found.append(Difference(f"spec models/{key}", "in the spec, not in the deployed release"))
        elif key not in desired.models:
            found.append(Difference(f"spec models/{key}", "deployed, no longer in the spec"))
        else:
            found += files_drift(
                f"spec models/{key}", deployed_models[key], desired.models[key], "in the deployed release"
            )
    deployed_settings = manifest.get("settings") or {}
    for key in sorted(set(deployed_settings) | set(desired.settings)):
        if deployed_settings.get(key) != desired.settings.get(key):
            found.append(
                Difference(
                    f"spec setting {key}",
                    f"deployed {_brief(deployed_settings.get(key))}, spec wants {_brief(desired.settings.get(key))}",
                )
            )
    return found


def _resources_drift(instance: dict, settings: dict, release) -> list[Difference]:
    found = []
    if "cpus" in settings:
        wanted = round(float(settings["cpus"] or 0) * 1e9)
        if int(instance.get("nano_cpus") or 0) != wanted:
            found.append(
                Difference(
                    "cpus",
                    f"container limit {int(instance.get('nano_cpus') or 0) / 1e9:g}, release {release} sets {wanted / 1e9:g}",
                )
            )
    if "memory" in settings:
        wanted = int(settings["memory"] or 0)
        if int(instance.get("memory") or 0) != wanted:
            found.append(
                Difference(
                    "memory",
                    f"container limit {instance.get('memory')} bytes, release {release} sets {wanted}",
                )
            )
    return found


def _mounts_drift(instance: dict, manifest: dict, service_dir: str) -> list[Difference]:
    wanted = {f"{APP_ROOT}/code": f"{service_dir}/code/{manifest.get('code_hash')}"}
    for model in manifest.get("models") or []:
        rel = f"{model['name']}/{model['version']}"
        wanted[f"{MODELS_MOUNT}/{rel}"] = f"{service_dir}/models/{rel}"
    mounts = {m.get("destination"): m for m in instance.get("mounts") or []}
    found = []
    for destination, source in wanted.items():
        mount = mounts.get(destination)
        if mount is None:
            found.append(Difference(f"mount {destination}", f"missing; release mounts {source}"))
        elif mount.get("source") != source:
            found.append(
                Difference(f"mount {destination}", f"from {mount.get('source')}, release mounts {source}")
            )
        elif mount.get("rw"):
            found.append(Difference(f"mount {destination}", "writable; releases mount it read-only"))
    return found


def _same(actual, wanted) -> bool:
    if actual is None:
        return False
    try:
        return float(actual) == float(wanted)
    except (TypeError, ValueError):
        return str(actual) == str(wanted)


def _short(digest) -> str:
    text = str(digest or "-")
    return text.removeprefix("sha256:")[:12]


def _brief(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
