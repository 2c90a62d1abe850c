"""The package's import rules, read from every module's imports (nothing is imported to check).

- a task package (segmentation, instance, detection, keypoints) never imports another task;
- the shared layers (errors, common, formats, engine, rcnn) import no task package;
- production code never imports the sample-data renderer (only tools/make_sample_data.py,
  tests and benchmarks do);
- deploy (export, inference API, server) and inspection (tools/inspect_dataset.py) are the
  layers above the tasks: nothing in gluonext imports them but the package's lazy
  ``load_predictor`` (deploy);
- gluonext has no import cycles;
- no file edits the module search path: gluonext is an installed package.
"""

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "gluonext"
TASKS = ("segmentation", "instance", "detection", "keypoints")
SHARED = ("errors", "common", "formats", "engine", "rcnn")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imported_modules(path: Path) -> set[str]:
    """Every gluonext module ``path`` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("gluonext"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if not node.module.startswith("gluonext"):
                continue
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                found.add(full if full in MODULES else node.module)
        elif isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{path}: relative import; use gluonext.<...> absolute imports")
    return found


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def production_files() -> list[Path]:
    files = [p for p in PACKAGE.rglob("*.py") if "sample" not in p.relative_to(PACKAGE).parts]
    files += sorted(REPO.glob("train_*.py"))
    files += [p for p in (REPO / "tools").glob("*.py") if p.name != "make_sample_data.py"]
    return files


def test_the_layout_has_the_expected_packages():
    for name in (*TASKS, *SHARED, "sample", "deploy", "inspection"):
        target = PACKAGE / name
        assert target.with_suffix(".py").is_file() or (target / "__init__.py").is_file(), name
    top_level = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert top_level == ["__init__.py", "errors.py"], (
        f"modules at the top of gluonext/: {top_level}"
    )


def test_a_task_never_imports_another_task():
    problems = []
    for module, path in MODULES.items():
        own = layer(module)
        if own not in TASKS:
            continue
        for target in imported_modules(path):
            if layer(target) in TASKS and layer(target) != own:
                problems.append(f"{module} imports {target}")
    assert not problems, "\n".join(problems)


def test_shared_layers_import_no_task():
    problems = []
    for module, path in MODULES.items():
        if layer(module) not in SHARED:
            continue
        for target in imported_modules(path):
            if layer(target) in TASKS:
                problems.append(f"{module} imports {target}")
    assert not problems, "\n".join(problems)


def test_only_the_package_entry_point_imports_deploy():
    problems = [
        f"{module} imports {target}"
        for module, path in MODULES.items()
        if layer(module) not in ("deploy", "")
        for target in imported_modules(path)
        if layer(target) == "deploy"
    ]
    assert not problems, "\n".join(problems)


def test_nothing_in_the_package_imports_the_inspector():
    problems = [
        f"{module} imports {target}"
        for module, path in MODULES.items()
        if layer(module) != "inspection"
        for target in imported_modules(path)
        if layer(target) == "inspection"
    ]
    assert not problems, "\n".join(problems)


def test_production_code_never_imports_the_sample_renderer():
    problems = [
        f"{path.relative_to(REPO)} imports {target}"
        for path in production_files()
        for target in imported_modules(path)
        if layer(target) == "sample"
    ]
    assert not problems, "\n".join(problems)


def test_no_import_cycles():
    graph = {
        m: {t for t in imported_modules(p) if t in MODULES and t != m} for m, p in MODULES.items()
    }
    state, stack, cycles = {}, [], []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(stack[stack.index(nxt) :] + [nxt]))
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module)
    assert not cycles, "\n".join(cycles)


SEARCH_PATH = "sys." + "path"  # spelled apart so that this file does not match itself


def test_no_file_edits_the_module_search_path():
    offenders = []
    for path in REPO.rglob("*.py"):
        rel = path.relative_to(REPO)
        if rel.parts[0] in (".venv", "datasets", "runs", "build") or "site-packages" in rel.parts:
            continue
        if SEARCH_PATH in path.read_text():
            offenders.append(str(rel))
    assert offenders == [], offenders


def test_the_checks_see_a_violation(tmp_path):
    """The rules above find what they look for (a guard against a checker that sees nothing)."""
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from gluonext.detection.model import build_ssd\nimport gluonext.sample.render\n"
    )
    found = imported_modules(bad)
    assert {"gluonext.detection.model", "gluonext.sample.render"} <= found
    assert {layer(m) for m in found} == {"detection", "sample"}
