"""Reading YAML while remembering where each value was written, so errors can name the line."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

Loc = tuple[str | int, ...]


@dataclass
class MarkedDocument:
    """Plain Python data plus the 1-based line of every mapping key and sequence item in it."""

    data: Any
    lines: dict[Loc, int] = field(default_factory=dict)
    # (location, line, line of the first occurrence): YAML keeps the last value without a word.
    duplicates: list[tuple[Loc, int, int]] = field(default_factory=list)

    def line_of(self, loc: Loc) -> int | None:
        """The line of `loc`, or of its closest ancestor when the value itself is absent (a missing key)."""
        for end in range(len(loc), -1, -1):
            line = self.lines.get(tuple(loc[:end]))
            if line is not None:
                return line
        return None


class YamlSyntaxError(ValueError):
    """The text is not YAML; `line`/`column` are 1-based when PyYAML knows them."""

    def __init__(self, problem: str, line: int | None, column: int | None):
        super().__init__(problem)
        self.problem = problem
        self.line = line
        self.column = column


class _Loader(yaml.SafeLoader):
    """The safe loader, plus Ansible's `!vault` tag (a secret's ciphertext, kept as written)."""


def _vault(loader: yaml.SafeLoader, node: yaml.Node):
    from fleetdeploy.spec.secrets import VaultText

    return VaultText(loader.construct_scalar(node))


_Loader.add_constructor("!vault", _vault)


def load_marked(text: str) -> MarkedDocument:
    """Parse one YAML document with the safe loader and record its line numbers."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join(part for part in (exc.context, exc.problem) if part)
        if exc.context_mark and mark and exc.context_mark.line != mark.line:
            problem += f" (the construct began on line {exc.context_mark.line + 1})"
        raise YamlSyntaxError(problem, mark.line + 1 if mark else None, mark.column + 1 if mark else None)
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(str(exc), None, None)
    finally:
        loader.dispose()
    document = MarkedDocument(data)
    if node is not None:
        document.lines[()] = node.start_mark.line + 1
        _record(node, (), document.lines, document.duplicates)
    return document


def _record(node: yaml.Node, loc: Loc, lines: dict[Loc, int], duplicates: list) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            child = (*loc, key_node.value)
            line = key_node.start_mark.line + 1
            if child in lines:
                duplicates.append((child, line, lines[child]))
            # The key's line reads best: for `a:\n  b: 1` users look for `a`, not for where its block begins.
            lines[child] = line
            _record(value_node, child, lines, duplicates)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = (*loc, index)
            lines[child] = item.start_mark.line + 1
            _record(item, child, lines, duplicates)
