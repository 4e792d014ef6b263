"""The node layout of one fleetdeploy service, as the roles write it (docs/design.md):

    <root>/<service>/state/active.json       what serves: release, slot, runtime, instance, previous
    <root>/<service>/state/history.jsonl     one record per apply, rollback, remove
    <root>/<service>/releases/<release>.json each kept release's manifest
    <root>/<service>/current                 the layout before blue/green slots: a link to a manifest

The one reader of these records, shared by the custom modules (fleet_inspect, fleet_front_switch,
fleet_releases, fleet_prune_releases) and the node script of `fleetdeploy logs`, which sends this file
as it is: standard library only, Python 3.6 compatible, no Ansible import. Also the one writer of the
history (fleet_history's and fleet_lock's modules), and the modules' way to write a record so that a
power cut leaves the old content or the new, never a torn file (write_durably).
"""

from __future__ import absolute_import, division, print_function

import datetime
import json
import os
import socket
import tempfile

__metaclass__ = type  # noqa: F821  (Ansible's module_utils boilerplate)


def active_path(service_dir):
    return os.path.join(service_dir, "state", "active.json")


def history_path(service_dir):
    return os.path.join(service_dir, "state", "history.jsonl")


def append_history(service_dir, records):
    """Appends each record as one JSON line (keys sorted) to the service's history, making the state
    folder (root's, 0755) and the file (0644) when missing, and flushes them to disk before it returns
    (a lock given back after a history line the disk never got would lose the line). Each line gets
    `node_time`, this node's clock when it was written, beside the controller's `time`: the two may
    differ, and the file's order is the node's own. Returns how many lines were written."""
    if not records:
        return 0
    node_time = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    records = [dict(record, node_time=node_time) for record in records]
    path = history_path(service_dir)
    folder = os.path.dirname(path)
    made = not os.path.isdir(folder)
    if made:
        os.makedirs(folder)
        os.chmod(folder, 0o755)
    created = not os.path.exists(path)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    with os.fdopen(fd, "a") as fh:
        fh.write("".join(json.dumps(record, sort_keys=True) + "\n" for record in records))
        fh.flush()
        os.fsync(fh.fileno())
    if created:
        _fsync_folder(folder)
    if made:
        _fsync_folder(os.path.dirname(folder))
    return len(records)


def current_bytes(path):
    """The file's content, or None when it cannot be read (missing): what write_durably would replace."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return None


def write_durably(path, data, mode=0o644, check=None):
    """Replaces `path` with `data` (bytes) so that a crash or power cut at any point leaves the old
    content or the new: written beside it, flushed to disk, checked with `check(tmp)` when given (it
    raises to refuse), renamed over, and the folder flushed so the rename itself survives."""
    folder = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".fleetdeploy-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        if check:
            check(tmp)
        os.rename(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_folder(folder)


def replace_link(link, target):
    """Points the symbolic link `link` at `target` in one rename, flushed like write_durably."""
    tmp = link + ".fleetdeploy-new"
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(target, tmp)
    os.rename(tmp, link)
    _fsync_folder(os.path.dirname(link) or ".")


def _fsync_folder(folder):
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def releases_dir(service_dir):
    return os.path.join(service_dir, "releases")


def manifest_path(service_dir, release):
    return os.path.join(releases_dir(service_dir), "%s.json" % release)


def read_json(path):
    """(data, error): data is None when the file is absent or unreadable, error None when absent."""
    try:
        with open(path) as fh:
            return json.load(fh), None
    except (IOError, OSError) as exc:
        if not os.path.exists(path):
            return None, None
        return None, "%s: %s" % (path, exc)
    except ValueError as exc:
        return None, "%s is not JSON: %s" % (path, exc)


def read_record(path):
    """A record that is there and readable, else {} (a switch or a listing starts from nothing)."""
    return read_json(path)[0] or {}


def legacy_active(service_dir, service):
    """The layout before blue/green slots: one container fleetdeploy-<service>, `current` naming the
    release. Described in active.json's words so readers see one shape."""
    link = os.path.join(service_dir, "current")
    if not os.path.islink(link):
        return None
    release = os.path.basename(os.readlink(link))
    if release.endswith(".json"):
        release = release[: -len(".json")]
    return {
        "service": service,
        "release": release,
        "slot": None,
        "runtime": "docker",
        "instance": "fleetdeploy-%s" % service,
        "layout": "single",
    }


def read_active(service_dir, service):
    """(active, error): what serves, from active.json, else from the layout before slots; active is None
    when the service is not deployed (never, or removed)."""
    active, error = read_json(active_path(service_dir))
    if active is None:
        return legacy_active(service_dir, service), error
    active.setdefault("layout", "slots")
    active.setdefault("service", service)
    return active, error


def instance_name(active):
    """The container (docker) or systemd unit (venv, conda) that serves, as active.json names it or as
    the roles name it; None for a runtime this file does not know."""
    runtime = active.get("runtime") or "docker"
    if active.get("instance"):
        return active["instance"]
    if runtime == "docker":
        return "fleetdeploy-%s" % active["service"]
    if runtime in ("venv", "conda"):
        return "fleetdeploy-%s@%s.service" % (active["service"], active.get("slot"))
    return None


def release_manifests(service_dir):
    """{release id: path} of every kept release's manifest."""
    folder = releases_dir(service_dir)
    if not os.path.isdir(folder):
        return {}
    return {
        name[: -len(".json")]: os.path.join(folder, name)
        for name in sorted(os.listdir(folder))
        if name.endswith(".json")
    }


def front_admin(path, line):
    """One command line sent to a front's HAProxy admin socket, and its whole answer (OSError when the
    socket cannot be reached)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as admin:
        admin.settimeout(10)
        admin.connect(path)
        admin.sendall(line.encode() + b"\n")
        chunks = []
        while True:
            chunk = admin.recv(4096)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")
