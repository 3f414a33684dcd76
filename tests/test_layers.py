"""The package's import graph: imports only go down the pipeline's stages, never round in circles.

``LAYERS`` below gives each module its stage, as DESIGN.md's import order does: utils/config/grid
< formats < features/encoder < embeddings/collection < strategies/classifier/metrics/records/training
< experiment/session < sweep/results/release/recordings < plots < widgets.
Read from the source with ``ast`` (function-level imports included), so a lazy import
cannot hide an upward dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "bioal"

#: Stage of every module (a package's name stands for all its modules). Same-stage imports are allowed.
LAYERS: dict[str, int] = {
    "bioal": 0,
    "bioal.utils": 0,
    "bioal.config": 0,
    "bioal.grid": 0,
    "bioal.notebooks": 0,
    "bioal.download": 1,
    "bioal.dcase": 1,
    "bioal.data": 1,
    "bioal.events": 1,
    "bioal.synth.audio": 1,
    "bioal.annotations": 1,
    "bioal.features": 2,
    "bioal.encoder": 2,
    "bioal.embeddings": 3,
    "bioal.synth.embeddings": 3,
    "bioal.collection": 3,
    "bioal.strategies": 4,
    "bioal.classifier": 4,
    "bioal.metrics": 4,
    "bioal.records": 4,
    "bioal.training": 4,
    "bioal.stopping": 4,
    "bioal.experiment": 5,
    "bioal.tour": 5,
    "bioal.session": 5,
    "bioal.detections": 5,
    "bioal.sweep": 6,
    "bioal.results": 6,
    "bioal.paper": 6,
    "bioal.explorer": 6,
    "bioal.pipeline": 6,
    "bioal.release": 6,
    "bioal.recordings": 6,
    "bioal.plots": 7,
    "bioal.widgets": 8,
}


def module_name(path: Path, root: Path = PACKAGE) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> int:
    name = module
    while name not in LAYERS:
        if "." not in name:
            raise KeyError(f"{module} has no stage in tests/test_layers.py LAYERS")
        name = name.rsplit(".", 1)[0]
    return LAYERS[name]


def bioal_imports(path: Path, root: Path = PACKAGE) -> list[tuple[int, str, bool]]:
    """``(line, imported module, inside a function)`` for every bioal import of a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    inside = {
        id(sub)
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        for sub in ast.walk(node)
    }
    package = module_name(path, root) if path.name == "__init__.py" else module_name(path, root).rsplit(".", 1)[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            # ``from bioal import records`` imports the module bioal.records
            targets = [f"{base}.{a.name}" if _is_module(root, f"{base}.{a.name}") else base for a in node.names]
        else:
            continue
        found += [(node.lineno, t, id(node) in inside) for t in targets if t == "bioal" or t.startswith("bioal.")]
    return found


def _is_module(root: Path, name: str) -> bool:
    path = root.parent / name.replace(".", "/")
    return path.is_dir() or path.with_suffix(".py").is_file()


FILES = sorted(PACKAGE.rglob("*.py"))


def test_every_module_has_a_stage():
    for path in FILES:
        layer(module_name(path))


@pytest.mark.parametrize("path", FILES, ids=lambda p: module_name(p))
def test_no_upward_imports(path):
    here = module_name(path)
    upward = [
        f"{path.name}:{line} imports {target} (stage {layer(target)} > {layer(here)})"
        for line, target, _ in bioal_imports(path)
        if layer(target) > layer(here)
    ]
    assert not upward, "\n".join(upward)


def test_no_import_cycles():
    graph: dict[str, set[str]] = {}
    for path in FILES:
        here = module_name(path)
        graph[here] = {t for _, t, lazy in bioal_imports(path) if t != here and not lazy and t != "bioal"}
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*trail[trail.index(nxt):], nxt]))
            if nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


def test_bioal_imports_sit_at_the_top():
    lazy = [f"{path.relative_to(PACKAGE.parent)}:{line} {t}" for path in FILES for line, t, inside in bioal_imports(path)
            if inside]
    assert not lazy, "\n".join(lazy)


def test_the_checker_sees_an_upward_import(tmp_path):
    root = tmp_path / "bioal"
    (root / "plots").mkdir(parents=True)
    (root / "plots" / "results.py").write_text("")
    bad = root / "metrics.py"
    bad.write_text("from bioal.utils import rng\n\n\ndef f():\n    from bioal.plots import results\n")
    assert bioal_imports(bad, root) == [(1, "bioal.utils", False), (5, "bioal.plots.results", True)]
    assert layer("bioal.plots.results") > layer(module_name(bad, root))


#: Folder and file names of the data layout, and the one module allowed to spell each out.
LAYOUT_OWNERS: dict[str, str] = {
    r'/ "prepared"': "bioal/data.py",
    r'"best_encoder\.pt"': "bioal/encoder.py",
    r'"(train|valid|test)\.h5"|\{(split|name)\}\.h5"': "bioal/embeddings.py",
    r'"models" / "encoder"': "bioal/encoder.py",
    r'/ "embeddings"': "bioal/embeddings.py",
}


@pytest.mark.parametrize("pattern", LAYOUT_OWNERS)
def test_data_layout_paths_have_one_owner(pattern):
    """DATA_ROOT's folders and files are named by their owner's helpers (data.prepared_dir,
    encoder.encoder_dir / ENCODER_FILE, embeddings.embeddings_dir / split_file), not rebuilt by hand."""
    import re

    import nbformat

    sources = {str(p.relative_to(PACKAGE.parent)): p.read_text() for p in PACKAGE.rglob("*.py")}
    for path in sorted((PACKAGE.parent / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        sources[str(path.relative_to(PACKAGE.parent))] = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    found = sorted(name for name, text in sources.items() if re.search(pattern, text))
    assert found == [LAYOUT_OWNERS[pattern]], f"{pattern!r} spelt out in {found}"
