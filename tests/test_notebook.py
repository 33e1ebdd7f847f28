"""The data scientists' notebook runs top to bottom on the installed package (a real kernel, nbclient)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "training" / "notebooks" / "quickstart.ipynb"


@pytest.mark.integration  # a Jupyter kernel
def test_quickstart_notebook_runs_top_to_bottom(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRAPHREC_NOTEBOOK_FAST", "1")  # the kernel inherits the environment
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    outputs = [
        "".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) for o in cell.outputs)
        for cell in notebook.cells
        if cell.cell_type == "code"
    ]
    assert any("users," in out and "edges" in out for out in outputs)  # the snapshot summary
    assert any("| GraphSAGE |" in out and "| EASE |" in out for out in outputs)  # the results table
    assert (tmp_path / "notebook-models" / "notebook" / "manifest.json").exists()  # the model version
    assert any("HeteroData" in out and "interacted" in out for out in outputs)
