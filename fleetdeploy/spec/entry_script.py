"""Checking an Azure ML-style entry script without running it: the file is parsed with `ast`, never
imported, so a broken or heavy script (it loads models at import time) is judged in milliseconds."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ScriptProblem:
    problem: str
    hint: str | None = None


def check_entry_script(path: Path) -> list[ScriptProblem]:
    """Problems that would stop the scoring server from calling `init()` and `run(data)`; [] if none."""
    try:
        source = path.read_bytes()
    except OSError as exc:
        return [ScriptProblem(f"cannot read {path}: {exc.strerror}")]
    try:
        tree = ast.parse(source, filename=str(path))
    except SyntaxError as exc:
        return [
            ScriptProblem(
                f"syntax error in {path.name}:{exc.lineno}:{exc.offset}: {exc.msg}",
                "the scoring server imports this file; fix it so `python -m py_compile` accepts it",
            )
        ]
    bindings = _top_level_bindings(tree)
    problems = []
    for name, check in (("init", _check_init), ("run", _check_run)):
        node = bindings.get(name)
        if node is None:
            problems.append(
                ScriptProblem(f"{path.name} defines no top-level function `{name}`", _HINTS[name])
            )
        elif isinstance(node, ast.AsyncFunctionDef):
            problems.append(
                ScriptProblem(f"{path.name}:{node.lineno}: `{name}` is async", "define it with plain `def`")
            )
        elif isinstance(node, ast.FunctionDef):
            problems.extend(check(path, node))
        # A name bound by import or assignment (`from model_lib import run`) cannot be judged statically;
        # the server's own start-up check will catch it if it is not callable.
    return problems


_HINTS = {
    "init": "add `def init():` that loads the model, e.g. from os.getenv('AZUREML_MODEL_DIR')",
    "run": "add `def run(raw_data):` that scores one request and returns something JSON-serializable",
}


def _top_level_bindings(tree: ast.Module) -> dict[str, ast.AST]:
    """Names bound at module level, including inside top-level if/try blocks (`try: import x ...`)."""
    found: dict[str, ast.AST] = {}

    def visit(statements: list[ast.stmt]) -> None:
        for stmt in statements:
            if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                found[stmt.name] = stmt
            elif isinstance(stmt, ast.Import | ast.ImportFrom):
                for alias in stmt.names:
                    found[(alias.asname or alias.name).split(".")[0]] = stmt
            elif isinstance(stmt, ast.Assign):
                for target in stmt.targets:
                    if isinstance(target, ast.Name):
                        found[target.id] = stmt
            elif isinstance(stmt, ast.AnnAssign | ast.AugAssign) and isinstance(stmt.target, ast.Name):
                found[stmt.target.id] = stmt
            elif isinstance(stmt, ast.If):
                visit(stmt.body)
                visit(stmt.orelse)
            elif isinstance(stmt, ast.Try):
                visit(stmt.body)
                for handler in stmt.handlers:
                    visit(handler.body)
                visit(stmt.orelse)
                visit(stmt.finalbody)

    visit(tree.body)
    return found


def _positional_counts(func: ast.FunctionDef) -> tuple[int, int | None]:
    """(required, maximum) positional arguments a call may pass; maximum is None with *args."""
    args = func.args
    positional = len(args.posonlyargs) + len(args.args)
    required = positional - len(args.defaults)
    return required, None if args.vararg else positional


def _required_keyword_only(func: ast.FunctionDef) -> list[str]:
    return [arg.arg for arg, default in zip(func.args.kwonlyargs, func.args.kw_defaults) if default is None]


def _check_init(path: Path, func: ast.FunctionDef) -> list[ScriptProblem]:
    required, _ = _positional_counts(func)
    if required or _required_keyword_only(func):
        return [
            ScriptProblem(
                f"{path.name}:{func.lineno}: `init` must be callable without arguments",
                "the server calls init() once at start; give its parameters defaults",
            )
        ]
    return []


def _check_run(path: Path, func: ast.FunctionDef) -> list[ScriptProblem]:
    required, maximum = _positional_counts(func)
    # Azure calls run(data) or, when the script asks for them, run(data, request_headers).
    if required > 2 or (maximum is not None and maximum < 1) or _required_keyword_only(func):
        return [
            ScriptProblem(
                f"{path.name}:{func.lineno}: `run` must accept the request data as its one argument",
                "write `def run(raw_data):` (or `def run(data, request_headers):`)",
            )
        ]
    return []
