"""Numbers on the command line: out of range or not numbers are usage errors (exit 2), one line each."""

import os

import pytest

from tests.support.scenarios import gui_agent


@pytest.mark.parametrize("args, problem", [
    (["run", "x", "--max-steps", "-5"], "argument --max-steps: -5 is out of range: give at least 1"),
    (["run", "x", "--timeout", "-1"], "argument --timeout: -1 is out of range: give more than 0"),
    (["run", "x", "--max-seconds", "nan"], "argument --max-seconds: nan is out of range: give more than 0"),
    (["run", "x", "--monitor", "0"], "argument --monitor: 0 is out of range: give at least 1"),
    (["run", "x", "--retries", "two"], "argument --retries: 'two' is not a whole number"),
    (["report", "out", "--fps", "0"], "argument --fps: 0 is out of range: give at least 0.1"),
    (["run", "x", "--timeout", "1e30"], "argument --timeout: 1e30 is out of range: give at most 1,000,000,000"),
    (["run", "x", "--max-tokens", "10000000000"],
     "argument --max-tokens: 10000000000 is out of range: give at most 1,000,000,000"),
])
def test_numbers_out_of_range_are_refused_before_anything_starts(args, problem):
    result = gui_agent(*args, env=dict(os.environ))
    assert result.returncode == 2 and result.stderr.strip().splitlines()[-1].endswith(problem), result.stderr
    assert "Traceback" not in result.stderr
