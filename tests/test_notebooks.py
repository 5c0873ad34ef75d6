"""The notebooks: stored clean, and each runs from top to bottom in a fresh python3 kernel."""

import json

import nbformat
import pytest

from src.core.paths import PROJECT_ROOT
from src.data.io import read_jsonl
from src.data.paths import SPLIT_FILES

NOTEBOOK_DIR = PROJECT_ROOT / "notebooks"
NOTEBOOKS = ("01_dataset.ipynb", "02_error_analysis.ipynb")


def read(name: str) -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOK_DIR / name, as_version=4)


def cell(notebook: nbformat.NotebookNode, cell_id: str) -> nbformat.NotebookNode:
    return next(c for c in notebook.cells if c.get("id") == cell_id)


def text_of(code_cell: nbformat.NotebookNode) -> str:
    """Everything a code cell printed or displayed as text or HTML."""
    parts = []
    for output in code_cell.outputs:
        if output.output_type == "stream":
            parts.append(output.text)
        elif output.output_type in ("execute_result", "display_data"):
            parts += [output.data.get("text/plain", ""), output.data.get("text/html", "")]
    return "\n".join(parts)


def has_image(code_cell: nbformat.NotebookNode) -> bool:
    return any("image/png" in output.get("data", {}) for output in code_cell.outputs)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_stored_without_outputs(name):
    # nbformat 4.5 requires cell ids; reading only warns of a missing one, and makes one up.
    cells = json.loads((NOTEBOOK_DIR / name).read_text(encoding="utf-8"))["cells"]
    assert all(c.get("id") for c in cells), [c["source"][:1] for c in cells if not c.get("id")]
    notebook = read(name)
    nbformat.validate(notebook)
    assert notebook.nbformat == 4
    assert notebook.metadata.kernelspec.name == "python3"
    code = [c for c in notebook.cells if c.cell_type == "code"]
    for code_cell in code:
        assert code_cell.execution_count is None, code_cell.id
        assert code_cell.outputs == [], code_cell.id
    # The first code cell makes `import src` work from notebooks/ (nbmake runs there).
    assert "pyproject.toml" in code[0].source and "sys.path.insert" in code[0].source


def test_python3_kernel_is_available():
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("python3")
    assert "ipykernel_launcher" in " ".join(spec.argv)


@pytest.fixture
def execute(monkeypatch):
    """Run a notebook in a fresh kernel, as nbmake does: cwd is the notebooks folder."""
    from nbclient import NotebookClient

    # The kernel is a child process and inherits this environment.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    monkeypatch.delenv("QAWL_RUN_DIR", raising=False)
    monkeypatch.delenv("MPLBACKEND", raising=False)

    def run(name: str) -> nbformat.NotebookNode:
        notebook = read(name)
        NotebookClient(notebook, timeout=300, kernel_name="python3",
                       resources={"metadata": {"path": str(NOTEBOOK_DIR)}}).execute()
        errors = [output for c in notebook.cells if c.cell_type == "code"
                  for output in c.outputs if output.output_type == "error"]
        assert not errors, errors
        assert all(c.execution_count for c in notebook.cells if c.cell_type == "code")
        return notebook

    return run


@pytest.mark.slow
def test_dataset_notebook_runs(execute):
    notebook = execute("01_dataset.ipynb")
    assert "none crosses splits" in text_of(cell(notebook, "group-check"))
    total = sum(len(read_jsonl(path)) for path in SPLIT_FILES.values())
    assert f"{total} statements" in text_of(cell(notebook, "load"))
    assert has_image(cell(notebook, "lengths-hist"))
    stance = text_of(cell(notebook, "stance-dist"))
    assert all(label in stance for label in ("regime", "russia", "opposition", "none"))
    assert "بوتين" in text_of(cell(notebook, "top-speakers")), "Arabic is shown as is"


@pytest.mark.slow
def test_error_analysis_notebook_runs(execute):
    notebook = execute("02_error_analysis.ipynb")
    assert "trained the tiny model" in text_of(cell(notebook, "train"))
    assert "actor rule" in text_of(cell(notebook, "evaluate"))
    confusion = [o for o in cell(notebook, "confusion").outputs if o.output_type == "display_data"]
    assert len(confusion) == 2, "one matrix per task"
    worst = text_of(cell(notebook, "worst-errors"))
    assert "stance:" in worst and "sentiment:" in worst and "gold score" in worst
    slices = text_of(cell(notebook, "slices"))
    assert all(name in slices for name in ("named speaker", "quoted", "source seed"))
    assert has_image(cell(notebook, "reliability"))
