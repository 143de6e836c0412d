"""The console of ``daskcollab``: --version, exit codes, library noise filtered (no cluster)."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from daskcollab._logging import RUN_CALLS, quiet_close, quiet_run_calls
from daskcollab.cli import ExitCode, main, version


def test_version_is_the_installed_one(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"daskcollab {version()}"
    assert version()[0].isdigit() or version().startswith("unknown")


def test_exit_codes_usage_workflow_and_ok(tmp_path, capsys):
    with pytest.raises(SystemExit) as usage:  # argparse's own usage error
        main(["run"])
    assert usage.value.code == ExitCode.USAGE == 2
    assert "the following arguments are required: file" in capsys.readouterr().err
    assert main(["data", "no-such-set", str(tmp_path / "x.zarr")]) == ExitCode.USAGE
    assert "unknown dataset 'no-such-set'" in capsys.readouterr().err
    assert main(["validate", str(tmp_path / "missing.yaml")]) == ExitCode.WORKFLOW == 3
    assert "cannot read the workflow file" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    assert main(["report", str(bad), "-o", str(tmp_path / "r.html")]) == ExitCode.WORKFLOW
    assert "RunResult.from_json: expected a JSON object with a 'workflow' name" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()


def test_exit_status_of_the_installed_command():
    done = subprocess.run([sys.executable, "-m", "daskcollab.cli", "run", "wf.yaml", "--no-such-option"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "unrecognized arguments" in done.stderr


def record(name: str, msg: str, *args: object, level: int = logging.INFO) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, args, None)


def test_only_daskcollabs_own_scheduler_calls_are_quiet():
    quiet_run_calls()
    quiet_run_calls()  # idempotent
    log = logging.getLogger("distributed.worker")
    assert sum(type(f).__name__ == "_QuietRunCalls" for f in log.filters) == 1
    assert "stage_event" in RUN_CALLS
    assert not log.filter(record(log.name, "Run out-of-band function %r", "stage_event"))
    assert log.filter(record(log.name, "Run out-of-band function %r", "my_function"))
    assert log.filter(record(log.name, "Starting worker compute stream"))


def test_close_noise_quiet_by_default_shown_on_request():
    nanny = logging.getLogger("distributed.nanny")
    still_alive = record(nanny.name, "Worker process still alive after %.1f seconds, killing", 4.0,
                         level=logging.WARNING)
    other = record(nanny.name, "Restarting worker", level=logging.WARNING)
    try:
        quiet_close(False)  # daskcollab -v
        quiet_close()  # what run() does for its embedded cluster: keeps -v's choice
        assert nanny.filter(still_alive)
        quiet_close(True)
        quiet_close()
        assert not nanny.filter(still_alive) and nanny.filter(other)
    finally:
        quiet_close(False)
        quiet_close(True)
