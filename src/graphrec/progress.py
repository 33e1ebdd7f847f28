"""How long jobs (training, evaluation) report progress: a bar on a terminal, one line per step
otherwise (CI logs, ``nohup``, a notebook's captured stderr), nothing when asked to be quiet.

Why not tqdm alone: with ``disable=None`` it turns itself off when stderr is not a terminal, so a
27-minute training run in a log printed nothing until the result. Lines go to stderr, so the
commands' own output (the result, JSON) stays clean on stdout.
"""

from __future__ import annotations

import sys
import time
from typing import Literal, TextIO

from tqdm import tqdm

Mode = Literal["auto", "bar", "lines", "off"]


def resolve(mode: Mode | bool, stream: TextIO | None = None) -> Literal["bar", "lines", "off"]:
    """``True``/``"auto"``: a bar on a terminal, lines elsewhere; ``False``/``"off"``: nothing."""
    if mode is False or mode == "off":
        return "off"
    if mode is True or mode == "auto":
        out = stream if stream is not None else sys.stderr
        return "bar" if out.isatty() else "lines"
    return mode


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


class _Reporter:
    """What both reporters share: the resolved mode, the stream, and the bar when there is one."""

    def __init__(self, total: int, mode: Mode | bool, *, desc: str, stream: TextIO | None, leave: bool) -> None:
        self.total = total
        self.mode = resolve(mode, stream)
        self.desc = desc
        self._stream = stream if stream is not None else sys.stderr
        self._bar = tqdm(total=total, desc=desc, leave=leave, file=self._stream) if self.mode == "bar" else None

    def _line(self, text: str) -> None:
        print(text, file=self._stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


class EpochProgress(_Reporter):
    """Per-epoch progress of one training run: loss, validation metric, best epoch and ETA."""

    def __init__(
        self,
        total: int,
        mode: Mode | bool = "auto",
        *,
        desc: str = "epochs",
        metric: str = "recall",
        stream: TextIO | None = None,
    ) -> None:
        super().__init__(total, mode, desc=desc, stream=stream, leave=False)
        self.metric = metric
        self._started = time.perf_counter()

    def epoch(
        self,
        epoch: int,
        loss: float,
        *,
        value: float | None = None,
        best: float | None = None,
        best_epoch: int | None = None,
    ) -> None:
        """After each epoch; ``value`` only on epochs that were evaluated."""
        elapsed = time.perf_counter() - self._started
        eta = elapsed / epoch * (self.total - epoch)
        if self._bar is not None:
            post = {"loss": f"{loss:.4f}"}
            if value is not None:
                post |= {"val": f"{value:.4f}", "best": f"{best:.4f}@{best_epoch}"}
            self._bar.set_postfix(post)
            self._bar.update(1)
            return
        if self.mode == "lines" and (value is not None or epoch == self.total):
            parts = [f"{self.desc} {epoch}/{self.total}", f"loss {loss:.4f}"]
            if value is not None:
                parts += [f"{self.metric} {value:.4f}", f"best {best:.4f} @ epoch {best_epoch}"]
            parts += [f"{elapsed / epoch:.2f} s/epoch", f"ETA {_duration(eta)}"]
            self._line("  ".join(parts))

    def stopped_early(self, epoch: int, best_epoch: int) -> None:
        if self.mode == "lines":
            self._line(f"{self.desc}: stopped early at epoch {epoch} (no gain since epoch {best_epoch})")


class StepProgress(_Reporter):
    """Progress over a list of named steps (the models of an evaluation): one line per finished step."""

    def __init__(
        self, total: int, mode: Mode | bool = "auto", *, desc: str = "models", stream: TextIO | None = None
    ) -> None:
        super().__init__(total, mode, desc=desc, stream=stream, leave=True)
        self._done = 0

    def done(self, name: str, summary: str, seconds: float) -> None:
        self._done += 1
        if self._bar is not None:
            self._bar.set_postfix_str(f"{name}: {summary}")
            self._bar.update(1)
        elif self.mode == "lines":
            self._line(f"{self.desc} {self._done}/{self.total}  {name}: {summary}  ({seconds:.1f} s)")
