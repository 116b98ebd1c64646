"""The run options on the command line: made from RunOptions' fields; numbers out of range or not numbers are
usage errors (exit 2), one line each; no secret in the help."""

import os
from dataclasses import dataclass
from typing import Annotated

import pytest

from agent import api, cli, options
from agent.core.settings import settings
from agent.options import AtLeast
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


@dataclass(frozen=True, kw_only=True)
class ToyOptions(options.RunOptions):
    wiggles: Annotated[int, AtLeast(1)] = 3
    """wiggle the pointer this many times before the first step"""


def test_an_option_declared_once_in_run_options_is_a_flag_with_its_help_that_reaches_the_run(
        monkeypatch, capsys, tmp_path):
    """The one place: a field added to RunOptions is `run`'s flag, its help the field's docstring, its bound
    the field's, and its value in the options the run is driven with; nothing else is edited."""
    monkeypatch.setattr(options, "RunOptions", ToyOptions)
    with pytest.raises(SystemExit):
        cli.main(["run", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert "--wiggles WIGGLES wiggle the pointer this many times before the first step (default: 3)" in shown
    with pytest.raises(SystemExit) as refused:
        cli.main(["run", "x", "--wiggles", "0"])
    assert refused.value.code == 2
    assert "argument --wiggles: 0 is out of range: give at least 1" in capsys.readouterr().err
    driven = []
    monkeypatch.setattr(api, "drive", lambda task, planner, settings, options, **hooks: driven.append(options)
                        or api.RunResult("done", "ok", 0, tmp_path))
    assert cli.main(["run", "click OK", "--model", "local", "--wiggles", "5", "--out", str(tmp_path)]) == 0
    assert driven[0].wiggles == 5 and driven[0].out == tmp_path
    assert cli.main(["run", "click OK", "--model", "local", "--out", str(tmp_path)]) == 0 and driven[1].wiggles == 3


def test_secrets_and_the_key_are_never_shown_in_help_or_reprs(monkeypatch, capsys):
    monkeypatch.setenv("GUI_AGENT_API_KEY", "sk-hunter2")
    monkeypatch.setenv("GUI_AGENT_SECRET_PIN", "4711")
    with pytest.raises(SystemExit):
        cli.main(["run", "--help"])
    given = options.options_of({"secrets": {"PASS": "swordfish"}})
    assert given.api_key == "sk-hunter2" and given.secrets == {"PASS": "swordfish"}
    shown = capsys.readouterr().out + repr(given) + repr(settings())
    assert not {"sk-hunter2", "4711", "swordfish"} & set(shown.replace("'", " ").split()), shown
