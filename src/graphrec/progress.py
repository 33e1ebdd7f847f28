"""How long jobs (training, evaluation, tuning) report progress: a bar on a terminal, plain lines
otherwise (CI logs, ``nohup``, a notebook's captured stderr), nothing when asked to be quiet.

Why not tqdm alone: with ``disable=None`` it turns itself off when stderr is not a terminal, so a
27-minute training run in a log printed nothing until the result. Lines go to stderr, so the
commands' own output (the result, JSON) stays clean on stdout.

The rule for lines (this module is its one home): every line says where the job is (``n/total``), the
time spent and the ETA; a line is printed for every step worth reading on its own (a validated epoch, a
finished model) and otherwise at most once every ``every_s`` seconds (default 10), plus the last step,
so a slow epoch loop or a tuning grid of hundreds of points neither goes silent nor floods a log.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Literal, TextIO

from tqdm import tqdm

Mode = Literal["auto", "bar", "lines", "off"]
EVERY_S = 10.0  # at most one line per this many seconds between the steps that always get one


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

    def __init__(
        self,
        total: int,
        mode: Mode | bool,
        *,
        desc: str,
        stream: TextIO | None,
        leave: bool,
        every_s: float = EVERY_S,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.total = total
        self.mode = resolve(mode, stream)
        self.desc = desc
        self.every_s = every_s
        self._clock = clock
        self._started = clock()
        self._last_line = self._started
        self._stream = stream if stream is not None else sys.stderr
        self._bar = tqdm(total=total, desc=desc, leave=leave, file=self._stream) if self.mode == "bar" else None

    def _elapsed(self) -> float:
        return self._clock() - self._started

    def _eta(self, done: int) -> str:
        """Elapsed time and the ETA after ``done`` of ``total`` steps (at the mean pace so far)."""
        elapsed = self._elapsed()
        eta = elapsed / done * max(self.total - done, 0) if done else float("nan")
        return f"elapsed {_duration(elapsed)}  ETA {_duration(eta) if done else '?'}"

    def _due(self, *, always: bool) -> bool:
        """Whether a line is printed now: ``always`` for steps worth one on their own, else at most one
        per ``every_s`` seconds (the rate bound of the module docstring)."""
        if self.mode != "lines":
            return False
        now = self._clock()
        if always or now - self._last_line >= self.every_s:
            self._last_line = now
            return True
        return False

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
        every_s: float = EVERY_S,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        super().__init__(total, mode, desc=desc, stream=stream, leave=False, every_s=every_s, clock=clock)
        self.metric = metric

    def epoch(
        self,
        epoch: int,
        loss: float,
        *,
        value: float | None = None,
        best: float | None = None,
        best_epoch: int | None = None,
    ) -> None:
        """After each epoch; ``value`` only on epochs that were evaluated. Lines: every validated epoch,
        the last one, and otherwise one per ``every_s`` seconds."""
        elapsed = self._elapsed()
        eta = elapsed / epoch * (self.total - epoch)
        if self._bar is not None:
            post = {"loss": f"{loss:.4f}"}
            if value is not None:
                post |= {"val": f"{value:.4f}", "best": f"{best:.4f}@{best_epoch}"}
            self._bar.set_postfix(post)
            self._bar.update(1)
            return
        if self._due(always=value is not None or epoch == self.total):
            parts = [f"{self.desc} {epoch}/{self.total}", f"loss {loss:.4f}"]
            if value is not None:
                parts += [f"{self.metric} {value:.4f}", f"best {best:.4f} @ epoch {best_epoch}"]
            parts += [f"{elapsed / epoch:.2f} s/epoch", f"ETA {_duration(eta)}"]
            self._line("  ".join(parts))

    def stopped_early(self, epoch: int, best_epoch: int) -> None:
        if self.mode == "lines":
            self._line(f"{self.desc}: stopped early at epoch {epoch} (no gain since epoch {best_epoch})")


class StepProgress(_Reporter):
    """Progress over named steps: the models of an evaluation (``every_step``: one line each) or the
    points of a tuning grid (one line per ``every_s`` seconds and the last)."""

    def __init__(
        self,
        total: int,
        mode: Mode | bool = "auto",
        *,
        desc: str = "models",
        stream: TextIO | None = None,
        every_step: bool = True,
        leave: bool = True,
        every_s: float = EVERY_S,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        super().__init__(total, mode, desc=desc, stream=stream, leave=leave, every_s=every_s, clock=clock)
        self.every_step = every_step
        self._done = 0

    def grow(self, more: int) -> None:
        """``more`` steps were planned after the start (a search that decides its next points as it goes)."""
        self.total += more
        if self._bar is not None:
            self._bar.total = self.total
            self._bar.refresh()

    def note(self, text: str) -> None:
        """A line of its own saying what starts now, when what follows has progress of its own (a model
        trained inside a tuning run prints its epochs), so those lines are read as part of this job."""
        if self._bar is not None:
            self._bar.set_postfix_str(text)
        elif self.mode == "lines":
            self._line(text)

    def done(self, name: str, summary: str, seconds: float) -> None:
        self._done += 1
        if self._bar is not None:
            self._bar.set_postfix_str(f"{name}: {summary}")
            self._bar.update(1)
        elif self._due(always=self.every_step or self._done >= self.total):
            self._line(
                f"{self.desc} {self._done}/{self.total}  {name}: {summary}  ({seconds:.1f} s)  {self._eta(self._done)}"
            )
