"""The data scientists' notebook runs top to bottom on the installed package (a real kernel, nbclient)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "training" / "notebooks" / "quickstart.ipynb"


@pytest.mark.integration  # a Jupyter kernel
def test_quickstart_notebook_runs_top_to_bottom(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """It runs, and it leaves nothing where it runs: Jupyter starts a kernel in the notebook's own folder
    (training/notebooks/ of the checkout), where a model directory would be an untracked folder."""
    monkeypatch.setenv("GRAPHREC_NOTEBOOK_FAST", "1")  # the kernel inherits the environment
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))  # the kernel's tempfile.gettempdir()
    (tmp_path / "tmp").mkdir()
    where = tmp_path / "notebooks"  # stands in for the notebook's folder
    where.mkdir()
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(where)}}).execute()
    outputs = [
        "".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) for o in cell.outputs)
        for cell in notebook.cells
        if cell.cell_type == "code"
    ]
    assert any("users," in out and "edges" in out for out in outputs)  # the snapshot summary
    assert any("| GraphSAGE |" in out and "| EASE |" in out for out in outputs)  # the results table
    assert list(where.iterdir()) == []  # nothing written where it ran
    (models,) = (tmp_path / "tmp").glob("graphrec-notebook-*")  # the model version, in a temporary directory
    assert (models / "notebook" / "manifest.json").exists()
    assert any("HeteroData" in out and "interacted" in out for out in outputs)
