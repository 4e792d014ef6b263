"""`Model.deploy` and the services it makes, with the SDK's names: `LocalWebservice` (this machine's Docker
engine, fleetdeploy/local) and `FleetWebservice` (machines of an inventory, through the same plan,
preflight, lock and rollout as `fleetdeploy apply`). `Webservice(ws, name)` attaches to either again.

Each deployment is a spec written to <workspace>/services/<name>/fleetdeploy.yml from the models, the
inference config and the deployment configuration: the same checks a hand-written spec gets, and
`fleetdeploy apply`/`invoke --local` work on it too.
"""

from __future__ import annotations

import io
import json
import sys
import uuid
from pathlib import Path

import yaml

from fleetdeploy.azureml.environment import CONDA_FILE, PIP_FILE
from fleetdeploy.azureml.inference import InferenceConfig
from fleetdeploy.errors import ConfigError, DeployError, FleetdeployError
from fleetdeploy.local.service import LocalService
from fleetdeploy.ports import free_port
from fleetdeploy.registry import Workspace

SPEC_FILE = "fleetdeploy.yml"
FLEET_FILE = "fleet.json"  # a fleet service's deployment configuration (inventory, limit)


class WebserviceException(FleetdeployError):
    """What the SDK raises when a deployment fails (its message has the reason and the log's last lines)."""


class LocalWebserviceDeploymentConfiguration:
    def __init__(self, port: int | None = None, address: str = "127.0.0.1"):
        self.port = port
        self.address = address


class FleetWebserviceDeploymentConfiguration:
    def __init__(self, inventory, limit: str | None = None, rollout: dict | None = None, port: int = 6789,
                 endpoint: dict | None = None):
        self.inventory = Path(inventory).resolve()
        if not self.inventory.is_file():
            raise ConfigError(f"FleetWebservice.deploy_configuration: inventory {self.inventory} does not exist")
        self.limit = limit
        self.rollout = rollout
        self.port = port
        self.endpoint = endpoint


class Webservice:
    """`Webservice(ws, name)`: a deployed service again (a LocalWebservice or a FleetWebservice)."""

    def __new__(cls, workspace: Workspace, name: str):
        kind = cls
        if cls is Webservice:
            kind = FleetWebservice if _folder(workspace, name).joinpath(FLEET_FILE).is_file() else LocalWebservice
        return super().__new__(kind)

    def __init__(self, workspace: Workspace, name: str):
        self.workspace = workspace
        self.name = name
        self._lines: list[str] = []
        if not _folder(workspace, name).joinpath(SPEC_FILE).is_file():
            known = Webservice.list(workspace)
            raise WebserviceException(f"no service named {name!r} in {workspace.path} "
                                      f"(services: {', '.join(s.name for s in known) or 'none yet'})")

    @staticmethod
    def list(workspace: Workspace, **_filters) -> list[Webservice]:
        folder = workspace.path / "services"
        names = sorted(p.name for p in folder.iterdir() if (p / SPEC_FILE).is_file()) if folder.is_dir() else []
        return [Webservice(workspace, name) for name in names]

    @property
    def spec_path(self) -> Path:
        return _folder(self.workspace, self.name) / SPEC_FILE

    def wait_for_deployment(self, show_output: bool = False, timeout_sec: float | None = None) -> None:
        """The deployment ran in Model.deploy (as the SDK's local deployments do); this prints what it
        said and the state, and raises when it is not healthy."""
        state = self.state  # a fleet's asks every node: once
        if show_output:
            for line in self._lines:
                print(line)
            print(f"{self.name}: {state}")
        if state != "Healthy":
            raise WebserviceException(f"service {self.name} is {state}; get_logs() says why")

    def run(self, input_data) -> object:
        """POST input_data (a JSON string, or anything json.dumps takes) to /score; the answer, parsed."""
        body = input_data if isinstance(input_data, (bytes, str)) else json.dumps(input_data)
        answers = self.invoke(body.encode() if isinstance(body, str) else body)
        for answer in answers.values():
            if answer.error or answer.status != 200:
                raise WebserviceException(f"service {self.name}: {answer.url}: {answer.error or answer.status}: "
                                          f"{answer.answer or ''}".rstrip())
        parsed = [_parsed(answer.answer) for answer in answers.values()]
        return parsed[0] if len(parsed) == 1 else dict(zip(answers, parsed, strict=True))

    def invoke(self, body: bytes, request_id: str | None = None, timeout: float = 60) -> dict:
        """{node: Invocation} for one request to every place the service runs (fleetdeploy invoke)."""
        from fleetdeploy.health.probe import invoke_fleet

        return invoke_fleet(self.scoring_uris, body, request_id=request_id or f"run-{uuid.uuid4().hex[:12]}",
                            timeout=timeout, key=self._key())

    def update(self, models=None, inference_config: InferenceConfig | None = None, **_cloud) -> None:
        """A new release with these models and/or this inference config, rolled out as `apply` rolls:
        started beside the serving one, switched to once ready, with no request failed."""
        spec = yaml.safe_load(self.spec_path.read_text())
        write_spec(self.workspace, self.name, models or _registered(self.workspace, spec["models"]),
                   inference_config or _inference_of(spec), port=spec["port"], rest=_rest(spec))
        self._deploy_again()

    def reload(self) -> None:
        """The entry script and its folder read again (a new release when they changed), the server
        restarted with them in a fresh slot; models and environment as they were."""
        self._deploy_again(force=True)

    def _say(self, show_output: bool):
        def say(line: str) -> None:
            self._lines.append(line)
            if show_output:
                print(f"  {line}")
        return say

    def __repr__(self) -> str:
        return f"{type(self).__name__}(workspace={self.workspace.path}, name={self.name!r}, state={self.state!r})"


class LocalWebservice(Webservice):
    @staticmethod
    def deploy_configuration(port: int | None = None, address: str = "127.0.0.1", **_cloud):
        """The seed's `LocalWebservice.deploy_configuration(port=6789)`; no port: a free one."""
        return LocalWebserviceDeploymentConfiguration(port, address)

    @property
    def _local(self) -> LocalService:
        return LocalService(self.workspace.path, self.name)

    @property
    def state(self) -> str:
        return self._local.state()

    @property
    def scoring_uri(self) -> str:
        return self._local.scoring_uri

    @property
    def port(self) -> int:
        return self._local.settings().port

    @property
    def scoring_uris(self) -> dict[str, str]:
        return {"local": self._local.base_url}

    def _key(self) -> None:
        return None

    def get_logs(self, num_lines: int = 5000) -> str:
        return self._local.logs(num_lines)

    def delete(self) -> None:
        self._local.delete(lambda line: None)

    def _deploy_again(self, force: bool = False, show_output: bool = False) -> None:
        try:
            self._local.roll(self._say(show_output), force=force)
        except DeployError as exc:
            raise WebserviceException(str(exc)) from None

    def _first_deploy(self, config: LocalWebserviceDeploymentConfiguration, show_output: bool) -> None:
        try:
            self._local.deploy(self.spec_path, address=config.address, say=self._say(show_output))
        except DeployError as exc:
            raise WebserviceException(str(exc)) from None


class FleetWebservice(Webservice):
    @staticmethod
    def deploy_configuration(inventory, limit: str | None = None, rollout: dict | None = None, port: int = 6789,
                             endpoint: dict | None = None):
        """The machines of an Ansible inventory (`limit` as apply's --limit), with the spec's rollout
        section (`{"batch": [1, "100%"]}`) and endpoint section as given."""
        return FleetWebserviceDeploymentConfiguration(inventory, limit, rollout, port, endpoint)

    @property
    def _fleet(self) -> dict:
        return json.loads((_folder(self.workspace, self.name) / FLEET_FILE).read_text())

    def _inventory(self):
        from fleetdeploy.inventory import load_inventory

        return load_inventory(Path(self._fleet["inventory"]), limit=self._fleet["limit"])

    def _spec(self):
        from fleetdeploy.spec import load_spec

        return load_spec(self.spec_path)

    @property
    def scoring_uris(self) -> dict[str, str]:
        """{node: its service's URL}, as status and invoke reach them."""
        return self._target().urls(self._inventory())

    @property
    def scoring_uri(self) -> str:
        return next(iter(self.scoring_uris.values())).rstrip("/") + "/score"

    def _target(self):
        from fleetdeploy.ops.target import target_of

        return target_of(self._spec(), spec_path=self.spec_path)

    def _key(self) -> str | None:
        return self._target().key()

    @property
    def state(self) -> str:
        """Healthy when every node is (fleetdeploy status)."""
        from fleetdeploy.ops.status import fleet_status

        status = fleet_status(Path(self._fleet["inventory"]), self._target(), limit=self._fleet["limit"])
        return "Healthy" if status.nodes and status.healthy else "Unhealthy"

    def get_logs(self, num_lines: int = 5000) -> str:
        """Every node's log, each line after its node's name (fleetdeploy logs)."""
        from fleetdeploy.ops.logs import LogRequest, read_logs

        logs = read_logs(list(self._inventory()), LogRequest(self.name, lines=num_lines))
        return "".join(f"{node}: {line}\n" for node, log in logs.items() for line in log.lines)

    def delete(self) -> None:
        """The service removed from every node (fleetdeploy remove), then its folder."""
        import shutil

        from fleetdeploy.ops.remove import remove_service

        removal = remove_service(Path(self._fleet["inventory"]), self._target(), limit=self._fleet["limit"])
        if removal.failed:
            failed = ", ".join(f"{node.node} ({node.outcome}: {node.message or ''})" for node in removal.failed)
            raise WebserviceException(f"service {self.name}: not removed from {failed}")
        shutil.rmtree(_folder(self.workspace, self.name))

    def _deploy_again(self, force: bool = False, show_output: bool = False) -> None:
        self._apply(show_output)

    def _first_deploy(self, config: FleetWebserviceDeploymentConfiguration, show_output: bool) -> None:
        (_folder(self.workspace, self.name) / FLEET_FILE).write_text(
            json.dumps({"inventory": str(config.inventory), "limit": config.limit}, indent=2) + "\n")
        self._apply(show_output)

    def _apply(self, show_output: bool) -> None:
        """apply's own steps (preflight, plan, execute) with its progress display."""
        from rich.console import Console

        from fleetdeploy.cli.preflight_cmd import preflight
        from fleetdeploy.cli.progress import make_progress, print_rollout, print_summary
        from fleetdeploy.deploy import apply as workflow

        out = io.StringIO()
        console = Console(file=sys.stdout if show_output else out, highlight=False, soft_wrap=True)
        inventory, limit = Path(self._fleet["inventory"]), self._fleet["limit"]
        loaded, results, _ = preflight(inventory, self.spec_path, limit)
        failing = [f"{node.host}: {item.name}: {item.detail}" for node in results.values() for item in node.failed]
        if failing:
            raise WebserviceException(f"service {self.name}: preflight failed:\n" + "\n".join(failing))
        plan = workflow.plan(inventory, self.spec_path, limit=limit, say=self._say(show_output), loaded=loaded)
        with make_progress(console) as progress:
            outcome = workflow.execute(plan, on_event=progress, say=self._say(show_output))
        print_summary(console, outcome.result, verbose=False)
        print_rollout(console, outcome.rollout)
        self._lines.extend(out.getvalue().splitlines())
        if not outcome.succeeded:
            raise WebserviceException(f"service {self.name}: the rollout failed:\n{out.getvalue().strip()}")


def deploy(workspace: Workspace, name: str, models, inference_config: InferenceConfig, deployment_config=None,
           overwrite: bool = False, show_output: bool = False) -> Webservice:
    """Model.deploy: the spec written, then the first release deployed where the configuration says."""
    if inference_config is None:
        raise ConfigError("Model.deploy: an inference_config (entry script and environment) is needed")
    config = deployment_config or LocalWebservice.deploy_configuration()
    folder = _folder(workspace, name)
    local = isinstance(config, LocalWebserviceDeploymentConfiguration)
    if local:
        service = LocalService(workspace.path, name)
        if service.exists() or folder.joinpath(SPEC_FILE).is_file():
            if not overwrite:
                other = service.elsewhere()
                where = (f"on this machine's Docker engine, deployed from {other}" if other
                         else f"in workspace {workspace.path}")
                raise WebserviceException(f"a service named {name!r} already exists {where}; pass overwrite=True "
                                          "to replace it, or use its update()")
            service.delete(lambda line: None)
        port = config.port or free_port(config.address)
        # The slots listen in the front container's own network namespace: any two ports but the service's.
        rest: dict = {"rollout": {"slot_ports": [16789, 26789] if port not in (16789, 26789) else [16790, 26790]}}
    else:
        if folder.joinpath(SPEC_FILE).is_file() and not overwrite:
            raise WebserviceException(
                f"a service named {name!r} already exists in workspace {workspace.path}; pass overwrite=True "
                "to deploy over it, or use its update()")
        port = config.port
        rest = {key: value for key, value in (("rollout", config.rollout), ("endpoint", config.endpoint)) if value}
    write_spec(workspace, name, models, inference_config, port=port, rest=rest)
    service = LocalWebservice(workspace, name) if local else FleetWebservice(workspace, name)
    service._first_deploy(config, show_output)
    return service


def write_spec(workspace: Workspace, name: str, models, inference_config: InferenceConfig, *, port: int,
               rest: dict) -> Path:
    """<workspace>/services/<name>/fleetdeploy.yml: registered models by name and version, the entry
    script where it is, the environment's registered file (registered now if it was not)."""
    environment = inference_config.environment
    if environment is None:
        raise ConfigError("InferenceConfig: an environment is needed (Environment.from_pip_requirements(...) "
                          "or from_conda_specification(...))")
    if environment.version is None:
        environment.register(workspace)
    env_folder = workspace.path / "environments" / environment.name / str(environment.version)
    env_entry = ({"conda": str(env_folder / CONDA_FILE)} if environment.kind == "conda"
                 else {"pip": str(env_folder / PIP_FILE)})
    spec = {
        "service": name,
        "workspace": str(workspace.path),
        "models": [{"name": model.name, "version": int(model.version)} for model in models],
        "entry_script": {"path": inference_config.entry_script, "source_dir": inference_config.source_directory},
        "environment": env_entry,
        "port": port,
        **rest,
    }
    path = _folder(workspace, name) / SPEC_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("# Written by fleetdeploy.azureml's Model.deploy / update (docs/azureml.md).\n"
                    + yaml.safe_dump(spec, sort_keys=False))
    return path


def _folder(workspace: Workspace, name: str) -> Path:
    return workspace.path / "services" / name


def _registered(workspace: Workspace, entries: list[dict]):
    from fleetdeploy.azureml.model import Model

    return [Model(workspace, entry["name"], version=entry["version"]) for entry in entries]


def _inference_of(spec: dict) -> InferenceConfig:
    from fleetdeploy.azureml.environment import Environment

    kind, path = next(iter(spec["environment"].items()))
    environment = (Environment.from_conda_specification if kind == "conda" else Environment.from_pip_requirements)(
        Path(path).parent.parent.name, path)
    environment.version = Path(path).parent.name
    return InferenceConfig(spec["entry_script"]["path"], spec["entry_script"]["source_dir"], environment)


def _rest(spec: dict) -> dict:
    return {key: spec[key] for key in ("rollout", "endpoint") if key in spec}


def _parsed(answer: str | None):
    try:
        return json.loads(answer) if answer is not None else None
    except ValueError:
        return answer
