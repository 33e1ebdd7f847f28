"""Every failure a user can fix is one line on stderr naming what to fix, exit 2, never a traceback
(issue 30): missing or malformed config files, wrong fields, missing data sets, damaged snapshots,
bad settings. One home decides it (``graphrec.commands.failures``); a bug keeps its traceback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from model.graphs import block_snapshot
from typer.testing import CliRunner

from graphrec.cli import app
from graphrec.commands.failures import failure_line
from graphrec.graph.errors import StoreUnavailable


@pytest.fixture(autouse=True)
def _quiet_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing a failing command could write lands outside the test's directory."""
    monkeypatch.setenv("GRAPHREC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GRAPHREC_MODEL_DIR", str(tmp_path / "models"))


def _fails_in_one_line(args: list[str], *names: str) -> str:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    line = result.stderr.strip()
    assert line.startswith("error: ") and "\n" not in line, result.stderr
    assert "Traceback" not in result.output
    for name in names:
        assert name in line, (name, line)
    return line


def _file(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize("command", ["train", "evaluate", "export"])
def test_a_missing_config_file_is_named(command: str, tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    _fails_in_one_line([command, "--config", str(missing)], str(missing), "cannot read")


@pytest.mark.parametrize("command", ["train", "evaluate", "export"])
def test_a_malformed_config_file_is_named_with_the_place(command: str, tmp_path: Path) -> None:
    bad = _file(tmp_path / "bad.toml", "[train]\nepochs = \n")
    _fails_in_one_line([command, "--config", str(bad)], str(bad), "not valid TOML", "line 2")


def test_train_names_the_file_and_the_wrong_field(tmp_path: Path) -> None:
    config = _file(tmp_path / "run.toml", '[train]\nepochs = "many"\n[train.encoder]\ndim = 0\n')
    line = _fails_in_one_line(["train", "--config", str(config)], str(config), "train.epochs", "train.encoder.dim")
    assert "; " in line  # both problems, on one line


def test_train_refuses_a_random_validation_split(tmp_path: Path) -> None:
    config = _file(tmp_path / "run.toml", '[train]\nvalidation_protocol = "random"\n')
    _fails_in_one_line(["train", "--config", str(config)], str(config), "validation_protocol must be 'temporal'")


def test_evaluate_names_the_table_the_field_sits_in_or_the_option_that_set_it(tmp_path: Path) -> None:
    config = _file(tmp_path / "eval.toml", '[evaluation]\ntest_fraction = 2\n[train]\nlr = "fast"\n')
    _fails_in_one_line(
        ["evaluate", "--config", str(config), "--dataset", "movielens:x"],
        f"{config}: evaluation.test_fraction",
        f"{config}: train.lr",
    )
    line = _fails_in_one_line(["evaluate", "--config", str(config), "--ratings", "stars"], "--ratings: ")
    assert f"{config}: evaluation.ratings" not in line
    not_a_table = _file(tmp_path / "flat.toml", "evaluation = 3\n")
    _fails_in_one_line(["evaluate", "--config", str(not_a_table)], str(not_a_table), "must be a table")


def test_export_names_the_file_field_or_the_option(tmp_path: Path) -> None:
    config = _file(tmp_path / "export.toml", '[export]\nsince_ms = "yesterday"\n')
    _fails_in_one_line(["export", "--config", str(config)], f"{config}: export.since_ms")
    _fails_in_one_line(["export", "--sampling", "everything"], "--sampling: ")


def test_evaluate_names_a_missing_or_unreadable_data_set(tmp_path: Path) -> None:
    _fails_in_one_line(["evaluate", "--dataset", f"movielens:{tmp_path / 'ml'}"], str(tmp_path / "ml"), "no such")
    _fails_in_one_line(["evaluate", "--dataset", f"movielens:{tmp_path}"], str(tmp_path), "no u.data")
    (tmp_path / "u.data").write_text("1\t2\tfive\t880000000\n")
    _fails_in_one_line(["evaluate", "--dataset", f"movielens:{tmp_path}"], str(tmp_path / "u.data"), "not MovieLens")
    missing = tmp_path / "train.txt"
    _fails_in_one_line(["evaluate", "--dataset", f"lightgcn:{missing},{missing}"], str(missing))
    _fails_in_one_line(["evaluate", "--dataset", f"events:{tmp_path / 'e.csv'}"], str(tmp_path / "e.csv"))


def test_import_names_a_missing_file(tmp_path: Path) -> None:
    _fails_in_one_line(["import", str(tmp_path / "e.csv"), "--format", "events"], str(tmp_path / "e.csv"))


def test_train_names_a_damaged_snapshot(tmp_path: Path) -> None:
    snap = block_snapshot().save(tmp_path / "snap")
    weights = np.load(snap / "weights.npy")
    np.save(snap / "weights.npy", weights + 1)
    _fails_in_one_line(["train", "--snapshot", str(snap)], str(snap), "content hash")
    (snap / "indices.npy").write_bytes(b"not numpy")
    _fails_in_one_line(["train", "--snapshot", str(snap)], str(snap / "indices.npy"), "corrupted")
    (snap / "indices.npy").unlink()
    _fails_in_one_line(["train", "--snapshot", str(snap)], str(snap / "indices.npy"), "missing")
    (snap / "manifest.json").write_text("{not json")
    _fails_in_one_line(["train", "--snapshot", str(snap)], str(snap / "manifest.json"), "corrupted")
    _fails_in_one_line(["train", "--snapshot", str(tmp_path)], str(tmp_path), "not a snapshot directory")


def test_bad_settings_name_the_environment_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GRAPHREC_HALF_LIFE_DAYS", "soon")
    _fails_in_one_line(["train", "--snapshot", str(tmp_path)], "GRAPHREC_HALF_LIFE_DAYS")


def test_a_store_outage_is_one_line_exit_3_and_a_bug_keeps_its_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    line, code = failure_line(StoreUnavailable("FalkorDB unavailable:\nconnection refused")) or ("", 0)
    assert code == 3 and line.startswith("error: FalkorDB unavailable") and "GRAPHREC_GRAPH_URI" in line
    import graphrec.graph.factory as factory  # commands import it when they run (start-up, issue 29)

    def broken(*_: object, **__: object) -> None:
        raise KeyError("a bug")

    monkeypatch.setattr(factory, "open_store", broken)
    result = CliRunner().invoke(app, ["stats"])
    assert result.exit_code == 1 and isinstance(result.exception, KeyError)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two small model versions, trained once for the module; each test damages a copy."""
    from graphrec.model.config import EncoderConfig, TrainConfig
    from graphrec.model.pipeline import PipelineConfig, train

    models = tmp_path_factory.mktemp("versions")
    cfg = PipelineConfig(
        holdout_fraction=0.2,
        train=TrainConfig(encoder=EncoderConfig(dim=8), epochs=2, batch_size=64, validation_fraction=0.0),
    )
    for version in ("v1", "v2"):
        train(cfg, models_path=models, half_life_days=30.0, snapshot=block_snapshot(), version=version, progress=False)
    return models


def _damage(models: Path, name: str, how: str) -> Path:
    path = models / "v2" / name
    if how == "remove":
        path.unlink()
    else:
        path.write_bytes(b"\x00garbage")
    return path


def _empty_snapshot(tmp_path: Path) -> Path:
    from graphrec.snapshot import Snapshot

    none = np.array([], dtype=np.int64)
    empty = Snapshot.from_coo(
        user_ids=np.array(["u"]),
        item_ids=np.array(["i"]),
        rows=none,
        cols=none,
        weights=np.array([], np.float32),
        timestamps=none,
    )
    return empty.save(tmp_path / "empty")


# (case, the command line given the version directory and tmp_path, the damage done first, what the line names)
BAD_INPUTS: list[tuple[str, list[str], tuple[str, str] | None, list[str]]] = [
    ("damaged embeddings", ["compare", "v2", "--against", "v1"], ("user_embeddings.npy", "garbage"), ["damaged"]),
    ("damaged weights", ["compare", "v1", "--against", "v2"], ("weights.pt", "garbage"), ["damaged"]),
    ("missing id map", ["compare", "v2", "--against", "v1"], ("item_ids.npy", "remove"), ["missing"]),
    ("damaged holdout", ["compare", "v2", "--against", "v1"], ("holdout.npz", "garbage"), ["damaged"]),
    ("damaged metrics, runs", ["runs"], ("metrics.json", "garbage"), ["damaged"]),
    (
        "damaged config, runs compare",
        ["runs", "compare", "v1", "v2", "-o", "{tmp}/cmp"],
        ("config.json", "garbage"),
        [],
    ),
    ("unknown version", ["compare", "v1", "--against", "v9"], None, ["'v9' not found", "graphrec runs"]),
    ("one run to compare", ["runs", "compare", "v1", "-o", "{tmp}/cmp"], None, ["at least two runs"]),
    ("empty snapshot", ["train", "--snapshot", "{empty}"], None, ["no interactions", "graphrec import"]),
    ("bad option value", ["generate", "--users", "-5"], None, ["--users", "generate --help"]),
    ("unknown option", ["evaluate", "--nope"], None, ["No such option: --nope", "evaluate --help"]),
    ("missing argument", ["runs", "compare"], None, ["Missing argument", "runs compare --help"]),
    ("unknown command", ["trian"], None, ["No such command 'trian'"]),
]


@pytest.mark.parametrize(("args", "damage", "names"), [c[1:] for c in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS])
def test_each_bad_input_is_one_line_exit_2(
    args: list[str],
    damage: tuple[str, str] | None,
    names: list[str],
    trained: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Damaged or missing model versions, an empty snapshot and command lines the parser refuses: one
    line naming what to fix (the damaged file itself, the option, the command's --help), exit 2."""
    import shutil

    models = tmp_path / "models"
    shutil.copytree(trained, models)
    monkeypatch.setenv("GRAPHREC_MODEL_DIR", str(models))
    named = [str(_damage(models, *damage))] if damage else []
    empty = _empty_snapshot(tmp_path) if "{empty}" in args else tmp_path
    line = _fails_in_one_line([a.format(tmp=tmp_path, empty=empty) for a in args], *names, *named)
    assert "Usage:" not in line and "╭" not in line
