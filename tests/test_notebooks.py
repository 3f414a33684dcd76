"""Every chapter notebook follows the house form: committed without outputs, one tagged
``parameters`` cell of ``NAME: type = value  # help`` lines whose defaults equal the demo
preset, and a next cell that freezes them into a Config and prints it."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re

import nbformat
import pytest

import bioal
from bioal.config import Config, load_preset
from bioal.notebooks import CHAPTERS, notebook_defaults, notebook_parameters, notebook_path, run_notebook

LINE = re.compile(r"^([A-Z][A-Z0-9_]*): ([A-Za-z_][\w\[\], |]*) = (.+?)  # \S.*$")


@pytest.fixture(scope="module")
def demo():
    return load_preset("demo")


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_notebook_is_committed_without_outputs(chapter):
    nb = nbformat.read(notebook_path(chapter), as_version=4)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"{chapter} cell {index} has outputs"
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_parameters_cell_form_and_demo_defaults(chapter, demo):
    nb = nbformat.read(notebook_path(chapter), as_version=4)
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{chapter}: exactly one cell must be tagged 'parameters'"
    cell = nb.cells[tagged[0]]
    names = []
    for line in cell.source.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        match = LINE.match(line)
        assert match, f"{chapter}: parameter line not in 'NAME: type = value  # help' form: {line!r}"
        name, value = match.group(1), ast.literal_eval(match.group(3))
        names.append(name)
        if name in demo:
            expected = demo[name]
            assert value == expected, f"{chapter}: {name} defaults to {value!r}, configs/demo.yaml has {expected!r}"
    following = nb.cells[tagged[0] + 1].source
    assert "from_namespace(globals()" in following and "print(" in following, (
        f"{chapter}: the cell after 'parameters' must freeze them into a Config and print it"
    )
    declared = notebook_parameters(notebook_path(chapter))
    assert declared, f"{chapter}: papermill finds no parameters"
    # papermill skips (with a log line only) a line it cannot parse, and never injects that name
    missed = [name for name in names if name not in declared]
    assert not missed, f"{chapter}: papermill cannot parse the parameter lines of {missed}"


def _chapter_config_class(chapter: str) -> type:
    """The Config class the chapter freezes its parameters into (``X.from_namespace(globals())``)."""
    nb = nbformat.read(notebook_path(chapter), as_version=4)
    match = next(re.search(r"(\w+)\.from_namespace\(globals\(\)", c.source) for c in nb.cells
                 if "from_namespace(globals()" in c.source)
    for module in pkgutil.walk_packages(bioal.__path__, "bioal."):
        found = getattr(importlib.import_module(module.name), match.group(1), None)
        if isinstance(found, type) and issubclass(found, Config):
            return found
    raise AssertionError(f"{chapter}: no bioal Config class named {match.group(1)}")


@pytest.mark.parametrize("chapter", CHAPTERS)
@pytest.mark.parametrize("preset", ["demo", "paper"])
def test_every_preset_value_of_a_chapters_config_reaches_it(chapter, preset):
    """A preset key that names a field of the chapter's config must be a parameter of the chapter,
    or papermill drops it and the run silently uses the dataclass default."""
    fields = {name.upper() for name in _chapter_config_class(chapter)().to_dict()}
    declared = notebook_parameters(notebook_path(chapter))
    lost = sorted(key for key in load_preset(preset) if key in fields and key not in declared)
    assert not lost, f"{chapter}: configs/{preset}.yaml sets {lost}, which the chapter does not declare"


def test_run_notebook_talks_to_its_kernel_encrypted(tmp_path, capfd):
    """The kernel gets CurveZMQ keys, so ipykernel has no unencrypted-TCP warning to print."""
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}})
    nb.cells = [nbformat.v4.new_code_cell("print(6 * 7)")]
    source = tmp_path / "tiny.ipynb"
    nbformat.write(nb, source)
    out = run_notebook(source, output=tmp_path / "tiny_out.ipynb", progress=False)
    assert nbformat.read(out, as_version=4).cells[0].outputs[0]["text"] == "42\n"
    assert "without encryption" not in capfd.readouterr().err


def test_notebook_defaults_are_the_parameters_cell_values(tmp_path):
    defaults = notebook_defaults(notebook_path("05_experiments"))
    assert defaults["RECORD_MISMATCH"] is True and defaults["PANNS_CHECKPOINT"] == ""
    assert set(defaults) == set(notebook_parameters(notebook_path("05_experiments")))
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                            "language": "python"}})
    nb.cells = [nbformat.v4.new_code_cell("import os\nSEP: str = os.sep  # not a literal", metadata={"tags": ["parameters"]})]
    nbformat.write(nb, tmp_path / "odd.ipynb")
    with pytest.raises(ValueError, match=r"odd\.ipynb: the default of parameter 'SEP' \('os\.sep'\) is not a literal"):
        notebook_defaults(tmp_path / "odd.ipynb")


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_parameter_of_a_chapter_is_a_field_of_its_config(chapter):
    """A declared parameter outside the chapter's config is neither validated nor printed with it,
    and a cell reading the global bypasses the config."""
    fields = {name.upper() for name in _chapter_config_class(chapter)().to_dict()}
    stray = sorted(set(notebook_parameters(notebook_path(chapter))) - fields)
    assert not stray, f"{chapter}: parameters {stray} are not fields of its config"
