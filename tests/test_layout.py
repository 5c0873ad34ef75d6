"""The package layout, read from the source with ``ast``: commands at the top of src/, no command
importing another, the foundations (core, text) free of the layers above them, and the light
modules free of heavy libraries when imported."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from src.core.paths import PROJECT_ROOT

COMMANDS = {"train", "evaluate", "predict", "predict_bulk", "export", "audit"}
PACKAGES = {"core", "text", "inference", "evaluation", "models", "data"}
FOUNDATIONS = ("src.core", "src.text")
# What the foundations build on must not build on them.
UPPER_LAYERS = ("src.inference", "src.evaluation", "src.models",
                *(f"src.{command}" for command in COMMANDS))
# Imported by commands before any work starts, or by tools that only read run folders.
LIGHT = ("src/models/layout.py", "src/core/*.py", "src/inference/choices.py")
HEAVY = {"torch", "transformers", "datasets", "sklearn", "numpy", "hydra", "omegaconf"}
# The Hydra set-up registers its resolvers with OmegaConf; that is all it is for.
ALLOWED_HEAVY = {"src.core.config": {"omegaconf"}}


@dataclass(frozen=True)
class Import:
    file: str  # relative to the project root
    line: int
    module: str  # absolute; for ``from package import module``, the module
    at_import: bool  # runs when the importing module is imported, not inside a function

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: imports {self.module}"


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def source_files(root: Path) -> dict[str, Path]:
    return {module_name(path, root): path for path in sorted((root / "src").rglob("*.py"))}


def _type_checking(test: ast.expr) -> bool:
    return ((isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
            or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"))


def imports_of(path: Path, root: Path, modules: set[str]) -> list[Import]:
    """Every import in ``path``, wherever it stands; ``from src import train`` counts as an
    import of ``src.train``."""
    name, file = module_name(path, root), path.relative_to(root).as_posix()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[Import] = []

    def visit(node: ast.AST, at_import: bool) -> None:
        if isinstance(node, ast.Import):
            found.extend(Import(file, node.lineno, alias.name, at_import) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0]
                base = f"{parent}.{base}" if base else parent
            targets = (f"{base}.{alias.name}" for alias in node.names)
            found.extend(Import(file, node.lineno, target, at_import) for target in
                         dict.fromkeys(t if t in modules else base for t in targets))
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for child in ast.iter_child_nodes(node):
                visit(child, False)
        elif isinstance(node, ast.If) and _type_checking(node.test):
            # Read by type checkers only: never run, but still a dependency.
            for statement in node.body:
                visit(statement, False)
            for statement in node.orelse:
                visit(statement, at_import)
        else:
            for child in ast.iter_child_nodes(node):
                visit(child, at_import)

    visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)), True)
    return found


def all_imports(root: Path) -> dict[str, list[Import]]:
    files = source_files(root)
    return {name: imports_of(path, root, set(files)) for name, path in files.items()}


def _within(module: str, prefixes) -> bool:
    return any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes)


def _executed(module: str, modules) -> list[str]:
    """The project modules that importing ``module`` runs: its packages, then itself."""
    parts = module.split(".")
    return [name for name in (".".join(parts[:i]) for i in range(1, len(parts) + 1))
            if name in modules]


def heavy_at_import(module: str, imports: dict[str, list[Import]]) -> list[str]:
    """Each heavy import that importing ``module`` runs, with the project modules it runs
    through."""
    problems, seen = [], set()
    stack = [(name, ()) for name in _executed(module, imports)]
    while stack:
        name, chain = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        for found in imports[name]:
            if not found.at_import:
                continue
            top = found.module.split(".")[0]
            allowed = ALLOWED_HEAVY.get(module, set()) if name == module else set()
            if top in HEAVY and top not in allowed:
                route = (*chain, name)
                problems.append(str(found) + (f" (via {' -> '.join(route)})" if chain else ""))
            stack += [(target, (*chain, name)) for target in _executed(found.module, imports)]
    return problems


def command_imports(imports: dict[str, list[Import]]) -> list[str]:
    commands = {f"src.{command}" for command in COMMANDS}
    return [str(found) for name in sorted(commands & set(imports)) for found in imports[name]
            if _within(found.module, commands - {name})]


def foundation_imports(imports: dict[str, list[Import]]) -> list[str]:
    return [str(found) for name, found_in in imports.items() if _within(name, FOUNDATIONS)
            for found in found_in if _within(found.module, UPPER_LAYERS)]


def light_modules(root: Path) -> list[str]:
    return sorted({module_name(path, root) for pattern in LIGHT for path in root.glob(pattern)})


IMPORTS = all_imports(PROJECT_ROOT)


def test_top_of_src_holds_only_commands_and_packages():
    unexpected = [entry.name for entry in sorted((PROJECT_ROOT / "src").iterdir())
                  if entry.name != "__pycache__"
                  and not (entry.is_file() and entry.name in {*(f"{c}.py" for c in COMMANDS),
                                                              "__init__.py"})
                  and not (entry.is_dir() and entry.name in PACKAGES)]
    assert not unexpected, f"src/ holds more than the commands and packages: {unexpected}"
    missing = [name for name in sorted(PACKAGES) if not (PROJECT_ROOT / "src" / name
                                                          / "__init__.py").is_file()]
    assert not missing, f"packages without __init__.py: {missing}"


def test_no_command_imports_another():
    offending = command_imports(IMPORTS)
    assert not offending, "a command imports another command:\n" + "\n".join(offending)


def test_core_and_text_import_no_upper_layer():
    offending = foundation_imports(IMPORTS)
    assert not offending, ("src/core or src/text imports inference, evaluation, models or a "
                           "command:\n" + "\n".join(offending))


def test_light_modules_import_nothing_heavy():
    light = light_modules(PROJECT_ROOT)
    assert {"src.models.layout", "src.core.errors", "src.inference.choices"} <= set(light)
    offending = [problem for module in light for problem in heavy_at_import(module, IMPORTS)]
    assert not offending, "a light module imports a heavy library:\n" + "\n".join(offending)


def test_the_checks_see_every_kind_of_import(tmp_path):
    """On a small tree of its own: imports inside functions, ``from src import ...``, relative
    imports, heavy imports reached through another module, and Hydra's exemption."""
    files = {
        "src/__init__.py": "",
        "src/train.py": "def main():\n    from src import predict\n",
        "src/predict.py": "import src.train\n",
        "src/core/__init__.py": "",
        "src/core/config.py": "from omegaconf import OmegaConf\n",
        "src/core/errors.py": "from . import config\n",
        "src/core/paths.py": "from typing import TYPE_CHECKING\n"
                             "if TYPE_CHECKING:\n    import torch\n",
        "src/text/__init__.py": "from ..models import card\n",
        "src/models/__init__.py": "",
        "src/models/card.py": "import numpy as np\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    imports = all_imports(tmp_path)

    assert command_imports(imports) == ["src/predict.py:1: imports src.train",
                                        "src/train.py:2: imports src.predict"]
    assert foundation_imports(imports) == ["src/text/__init__.py:1: imports src.models.card"]
    assert heavy_at_import("src.core.config", imports) == []
    assert heavy_at_import("src.core.errors", imports) == [
        "src/core/config.py:1: imports omegaconf (via src.core.errors -> src.core.config)"]
    assert heavy_at_import("src.core.paths", imports) == []
    assert heavy_at_import("src.text", imports) == [
        "src/models/card.py:1: imports numpy (via src.text -> src.models.card)"]
