"""Progress by stage: log lines always, a live line only on a terminal."""

from __future__ import annotations

import io
import logging
import time

from daskcollab.compile import compile_workflow
from daskcollab.runtime._executor import StageRun, StageState
from daskcollab.runtime._progress import Progress
import daskcollab as dc


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def stage_runs():
    src = dc.ZarrSource("x.zarr", name="src")
    a, b = dc.XGBoostModel(src, name="a"), dc.XGBoostModel(src, name="b")
    steps = compile_workflow(dc.Workflow("w", [dc.Evaluate([a, b], name="ev")])).steps
    return {s.stage.name: StageRun(s) for s in steps}


def test_the_live_line_shows_every_running_stage_and_only_on_a_terminal(caplog):
    runs = stage_runs()
    for stream, live in ((Terminal(), True), (io.StringIO(), False)):
        progress = Progress(len(runs), enabled=True, stream=stream, interval=0.05)
        assert progress.live is live
        with caplog.at_level(logging.INFO, logger="daskcollab"), progress:
            runs["src"].started, runs["src"].finished = time.perf_counter() - 2, time.perf_counter()
            progress(runs["src"], StageState.DONE)
            runs["src"].state = StageState.DONE
            for name in ("a", "b"):
                runs[name].started = time.perf_counter()
                progress(runs[name], StageState.RUNNING)
                runs[name].state = StageState.RUNNING
            assert progress.line() == "[1/4 stages done] running: a 0s, b 0s"
            time.sleep(0.3)
        text = stream.getvalue()
        assert ("running: a 0s, b 0s" in text) is live  # drawn on a terminal only
        assert "\r" not in text or live  # no carriage-return frames in redirected output
        for name in ("a", "b"):
            runs[name].state = StageState.PENDING
    assert "stage src done in 2.0 s" in caplog.text and "stage a (model) started" in caplog.text
