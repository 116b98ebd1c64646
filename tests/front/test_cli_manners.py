"""The command line's manners: a mistyped option or command is named with what it may mean, under the usage
of the command it was given to; a bad value is a usage error (exit 2); `report` on something that is no
episode says so in one line; the single-file page and the page with its images beside it never replace
each other."""

import os
import shutil
from pathlib import Path

import pytest

from tests.support import EPISODES
from tests.support.scenarios import gui_agent

FORM = EPISODES / "form"


def usage_error(*args: str) -> tuple[str, str]:
    """The usage line's command and the last line of a usage error (exit 2, no traceback)."""
    result = gui_agent(*args, env=dict(os.environ))
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    return lines[0].split(" [")[0], lines[-1]


@pytest.mark.parametrize("args, usage, error", [
    (["run", "--modle", "local", "x"], "usage: gui-agent run",
     "gui-agent run: error: unrecognized arguments: --modle ... (did you mean --model?)"),
    (["report", "out", "--gfi"], "usage: gui-agent report",
     "gui-agent report: error: unrecognized arguments: --gfi (did you mean --gif?)"),
    (["skills", "add", "name", "out", "--parm", "a=b"], "usage: gui-agent skills add",
     "gui-agent skills add: error: unrecognized arguments: --parm ... (did you mean --param?)"),
    (["rnu", "x"], "usage: gui-agent", "gui-agent: error: argument COMMAND: invalid choice: 'rnu' (did you mean run?)"),
    (["skills", "lst"], "usage: gui-agent skills",
     "gui-agent skills: error: argument ACTION: invalid choice: 'lst' (did you mean list?)"),
    (["run", "x", "--protocol", "txt"], "usage: gui-agent run",
     "gui-agent run: error: argument --protocol: invalid choice: 'txt' (did you mean text?)"),
])
def test_a_mistyped_option_or_command_is_named_with_what_it_may_mean(args, usage, error):
    assert usage_error(*args) == (usage, error)


def test_the_eval_workers_command_is_not_offered_for_a_mistyped_one():
    assert "did you mean" not in usage_error("serve", "x")[1]


@pytest.mark.parametrize("args", [["run", "x", "--secrte", "PASS=hunter2"], ["run", "x", "--api-kye", "hunter2"],
                                  ["run", "x", "--secret", "hunter2"]])
def test_a_mistyped_option_does_not_show_the_secret_after_it(args):
    result = gui_agent(*args, env=dict(os.environ))
    assert result.returncode == 2 and "hunter2" not in result.stderr + result.stdout, result.stderr


@pytest.mark.parametrize("args, error", [
    (["sandbox", "--size", "100"], "argument --size: '100' is not WIDTHxHEIGHT, e.g. 1366x768"),
    (["sandbox", "--size", "100x100"], "argument --size: 100x100 is out of range (320x240 to 8192x8192)"),
    (["sandbox", "--apps", "form,paint"], "argument --apps: unknown demo app 'paint'; choose from form, editor"),
    (["run", "x", "--secret", "PASS"], "argument --secret: the value given is not NAME=VALUE: it has no '=' "
                                       "(not shown: it may be a secret)"),
    (["replay", "out", "--param", "1st=a"],
     "argument --param: '1st'=... is not NAME=VALUE (NAME letters, digits and _)"),
    (["run-skill", "send", "--param", "to"], "argument --param: the value given is not NAME=VALUE"),
    (["skills", "add", "name", "out", "--param", "a-b=c"], "argument --param: 'a-b'=... is not NAME=VALUE"),
    (["skills", "add", "my skill", "out"], "argument name: 'my skill': use letters, digits, - and _"),
    (["run", "x", "--confirm-policy", "/nonexistent/policy.toml"],
     "argument --confirm-policy: /nonexistent/policy.toml: no such file"),
    (["report", "out", "--prices", "/nonexistent/prices.json"],
     "argument --prices: /nonexistent/prices.json: no such file"),
    (["mcp", "--xauthority", "/nonexistent/Xauthority"],
     "argument --xauthority: /nonexistent/Xauthority: no such file"),
])
def test_a_bad_value_is_a_usage_error_of_its_command(args, error):
    usage, last = usage_error(*args)
    command = "skills add" if args[0] == "skills" else args[0]
    assert usage == f"usage: gui-agent {command}" and last.startswith(f"gui-agent {command}: error: {error}")


@pytest.mark.parametrize("make, problem", [
    (lambda path: path.write_bytes(bytes(range(256)) * 8), "is not text; it is not an episode"),
    (lambda path: shutil.copy(FORM / "step-001.png", path), "is not text; it is not an episode"),
    (lambda path: path.write_text("shopping list\neggs\nmilk\n"),
     "does not start with a header line; it is not an episode"),
    (lambda path: path.mkdir(), "no episode at"),
])
def test_report_on_what_is_no_episode_says_so_in_one_line(tmp_path, make, problem):
    make(tmp_path / "thing")
    result = gui_agent("report", str(tmp_path / "thing"), env=dict(os.environ))
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 1 and len(output.splitlines()) == 1 and problem in output, output
    assert output.startswith("error: ") and "codec" not in output


def test_the_single_file_page_and_the_gif_with_its_page_do_not_replace_each_other(tmp_path):
    run = Path(shutil.copytree(FORM, tmp_path / "form"))
    alone = gui_agent("report", str(run), "--single-file", env=dict(os.environ))
    assert alone.returncode == 0 and f"report: {run / 'report-single-file.html'}" in alone.stdout, alone.stdout
    shared = (run / "report-single-file.html").read_bytes()
    assert not (run / "report.html").exists() and b'src="data:image/' in shared
    both = gui_agent("report", str(run), "--gif", env=dict(os.environ))
    assert both.returncode == 0 and (run / "replay.gif").is_file(), both.stdout + both.stderr
    assert (run / "report-single-file.html").read_bytes() == shared
    assert 'src="report-thumbs/' in (run / "report.html").read_text(encoding="utf-8")
