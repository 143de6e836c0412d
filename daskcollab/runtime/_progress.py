"""Progress of a run by stage: a log line when a stage starts and ends, and a live status line.

Stage lines go to the ``daskcollab`` logger (INFO). The live line (stages done / running, each
running stage with its seconds so far) is drawn on stderr only when stderr is a terminal, so
redirected logs never fill with ``\\r`` frames.
"""

from __future__ import annotations

import logging
import sys
import threading
from typing import TextIO

from daskcollab.runtime._executor import StageRun, StageState

logger = logging.getLogger("daskcollab")


class Progress:
    """Follows a run's :class:`StageRun` objects; ``enabled=False`` draws nothing (lines still log)."""

    def __init__(self, total: int, *, enabled: bool, stream: TextIO | None = None, interval: float = 0.5) -> None:
        self.total = total
        self.stream = stream or sys.stderr
        self.live = enabled and getattr(self.stream, "isatty", lambda: False)()
        self.interval = interval
        self.runs: dict[str, StageRun] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._width = 0

    def __call__(self, run: StageRun, state: StageState) -> None:
        """A stage changes to ``state``."""
        self.runs[run.name] = run
        if state is StageState.RUNNING:
            logger.info("stage %s (%s) started", run.name, run.step.stage.kind.value)
        elif state is StageState.DONE:
            logger.info("stage %s done in %.1f s", run.name, run.seconds or 0.0)
        elif state is StageState.FAILED:
            logger.info("stage %s failed after %.1f s: %s", run.name, run.seconds or 0.0,
                        type(run.error).__name__)

    def line(self) -> str:
        runs = list(self.runs.values())
        done = sum(r.state in (StageState.DONE, StageState.REUSED) for r in runs)
        running = [f"{r.name} {r.seconds or 0.0:.0f}s" for r in runs if r.state in (StageState.RUNNING,
                                                                                    StageState.SUBMITTED)]
        return f"[{done}/{self.total} stages done] running: {', '.join(running) or '-'}"

    def __enter__(self) -> Progress:
        if self.live:
            self._thread = threading.Thread(target=self._draw, daemon=True, name="daskcollab-progress")
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()

    def _draw(self) -> None:
        while not self._stop.wait(self.interval):
            text = self.line()
            self.stream.write("\r" + text.ljust(self._width))
            self.stream.flush()
            self._width = max(self._width, len(text))
