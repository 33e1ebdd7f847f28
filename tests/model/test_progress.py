"""Training and evaluation tell a watcher what they are doing: one line per validation (and per
model) when stderr is not a terminal, nothing with --quiet, a bar on a terminal."""

from __future__ import annotations

import io
import re
from pathlib import Path

from typer.testing import CliRunner

from graphrec.model.config import TrainConfig
from graphrec.model.trainer import Trainer
from graphrec.progress import EpochProgress, StepProgress, resolve
from model.graphs import block_snapshot, small_config
from tests.test_evaluate_cli import _write_lightgcn


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def _cfg(**kw: object) -> TrainConfig:
    return small_config(**{"epochs": 6, "patience": 5, **kw})


def test_training_prints_one_line_per_validation_when_not_on_a_terminal(capsys) -> None:  # type: ignore[no-untyped-def]
    result = Trainer(_cfg(), progress=True).fit(block_snapshot())  # "auto": pytest's stderr is no tty
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 4  # validations at epochs 2, 4, 6, then the refit on all edges (its last epoch)
    assert re.match(rf"refit on all edges, epoch {result.best_epoch}/{result.best_epoch}  loss \d\.\d{{4}}  ", lines[3])
    for line, epoch in zip(lines[:3], (2, 4, 6), strict=True):
        assert re.match(
            rf"epoch {epoch}/6  loss \d+\.\d{{4}}  recall@20 \d\.\d{{4}}  best \d\.\d{{4}} @ epoch \d+  "
            r"\d+\.\d\d s/epoch  ETA \d+s$",
            line,
        ), line
    assert f"@ epoch {result.best_epoch}" in lines[2]


def test_quiet_training_prints_nothing(capsys) -> None:  # type: ignore[no-untyped-def]
    Trainer(_cfg(), progress=False).fit(block_snapshot())
    assert capsys.readouterr().err == ""


def test_a_terminal_gets_a_bar_with_loss_validation_and_best() -> None:
    tty = Tty()
    assert resolve(True, tty) == "bar" and resolve("auto", io.StringIO()) == "lines" and resolve("off") == "off"
    report = EpochProgress(4, True, desc="epoch", stream=tty)
    report.epoch(1, 0.5)
    report.epoch(2, 0.4, value=0.3, best=0.3, best_epoch=2)
    report.close()
    out = tty.getvalue()
    assert "loss=0.4000, val=0.3000, best=0.3000@2" in out and "/4 [" in out


def test_evaluate_reports_each_model_and_quiet_silences_it(tmp_path: Path) -> None:
    from graphrec.cli import app

    train_txt, test_txt = _write_lightgcn(tmp_path)
    args = [
        "evaluate",
        "--dataset",
        f"lightgcn:{train_txt},{test_txt}",
        "--seed",
        "0",
        "--models",
        "MostPopular,ItemKNN",
    ]
    loud = CliRunner().invoke(app, [*args, "--output", str(tmp_path / "a")])
    assert loud.exit_code == 0, loud.output
    assert re.search(r"model 1/2  MostPopular: recall@20 \d\.\d{4}  ndcg@20 \d\.\d{4}  \(\d+\.\d s\)", loud.output)
    assert "model 2/2  ItemKNN:" in loud.output
    quiet = CliRunner().invoke(app, [*args, "--output", str(tmp_path / "b"), "--quiet"])
    assert quiet.exit_code == 0 and "model 1/2" not in quiet.output and "| ItemKNN |" in quiet.output


class FakeClock:
    """Seconds that pass only when the test says so (no wall time in the assertions)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_tuning_grid_off_a_terminal_prints_lines_with_an_eta_at_a_bounded_rate() -> None:
    log, clock = io.StringIO(), FakeClock()  # a StringIO is no terminal: "auto" means lines
    report = StepProgress(0, "auto", desc="tune ALS", stream=log, every_step=False, every_s=10.0, clock=clock)
    report.grow(30)
    for point in range(1, 31):
        clock.now = 2.0 * point  # 2 s a point
        report.done(f"alpha={point}", "0.3000", 2.0)
    lines = log.getvalue().splitlines()
    # one line per 10 s (every 5th point) and the last: not 30 lines, not silence
    assert [line.split()[2] for line in lines] == ["5/30", "10/30", "15/30", "20/30", "25/30", "30/30"]
    assert lines[0] == "tune ALS 5/30  alpha=5: 0.3000  (2.0 s)  elapsed 10s  ETA 50s"
    assert lines[-1].endswith("elapsed 1m00s  ETA 0s")


def test_epochs_off_a_terminal_without_validation_still_report_every_few_seconds() -> None:
    log, clock = io.StringIO(), FakeClock()
    report = EpochProgress(20, "lines", desc="epoch", stream=log, every_s=10.0, clock=clock)
    for epoch in range(1, 21):
        clock.now = 4.0 * epoch  # 4 s an epoch, never validated: the old rule printed only the last
        report.epoch(epoch, 0.5)
    lines = log.getvalue().splitlines()
    assert [line.split()[1] for line in lines] == ["3/20", "6/20", "9/20", "12/20", "15/20", "18/20", "20/20"]
    assert lines[0] == "epoch 3/20  loss 0.5000  4.00 s/epoch  ETA 1m08s"
