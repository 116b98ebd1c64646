"""The Python API: agent.run and friends, with the CLI's options by the same names, a caller's own
planner and computer, and the README's example run as written."""

import re
import subprocess
import sys

import pytest

import agent
from agent.core.actions import Click
from agent.core.errors import AgentError
from agent.core.executors import RecordingComputer
from agent.core.geometry import Monitor
from tests.support import ROOT
from tests.support.fakes import FakeScreen, OneActionPlanner

README = ROOT / "README.md"


def two_step_planner() -> OneActionPlanner:
    """Clicks the middle of the screen, then says it is done."""
    return OneActionPlanner(Click(point=(500, 500), element_info="middle"), name="two-step")


def test_a_caller_runs_a_task_with_its_own_planner_computer_and_screen(tmp_path):
    computer = RecordingComputer(Monitor(0, 0, 1280, 800))
    steps = []
    result = agent.run("click the middle", planner=two_step_planner(), computer=computer, screen=FakeScreen(),
                       out=tmp_path / "run", stop_keys="none", on_step=steps.append)
    assert (result.status, result.steps, result.episode, result.exit_code) == ("done", 2, tmp_path / "run", 0)
    assert computer.calls == [("click", (640, 400), "left", 1)]
    assert [step["index"] for step in steps] == [1, 2]
    episode = agent.read_episode(result.episode)
    assert episode.header["planner"] == "two-step" and episode.end["status"] == "done"
    assert result.report == agent.report(result.episode) and result.report.exists()


class TypingPlanner:
    """A planner of a caller's own, written with the names `agent` exports and nothing else."""

    name = "mine"

    def __init__(self):
        self.asked = 0

    def decide(self, task, frame, feedback=None):
        self.asked += 1
        action = [agent.Click(point=(500, 500), element_info="Name"), agent.TypeText(content="Ada"), agent.Done()][
            min(self.asked, 3) - 1]
        return agent.Decision(agent.Reply(raw=action.call()), action, f"step {self.asked}", None)


def test_a_planner_of_ones_own_needs_only_what_agent_exports(tmp_path):
    computer = RecordingComputer(Monitor(0, 0, 1280, 800))
    result = agent.run("type Ada into Name", planner=TypingPlanner(), computer=computer, screen=FakeScreen(),
                       out=tmp_path / "run", stop_keys="none")
    assert (result.status, result.steps) == ("done", 3)
    assert [call[0] for call in computer.calls] == ["click", "type_text"]
    assert {"Decision", "Reply"} <= set(agent.__all__)
    with pytest.raises(AttributeError, match="no attribute 'Clik'"):
        agent.Clik  # noqa: B018 (the lookup is what is tested)


def test_options_are_checked_by_name_and_value_before_anything_starts(tmp_path):
    with pytest.raises(AgentError, match=r"option max_step: no such option \(did you mean max_steps\?\)"):
        agent.run("x", max_step=3)
    with pytest.raises(AgentError, match="option max_steps: Input should be greater than or equal to 1"):
        agent.run("x", max_steps=0)
    with pytest.raises(AgentError, match="option protocol"):
        agent.run("x", protocol="xml")
    with pytest.raises(AgentError, match=r"the task uses \{\{PIN\}\} but no secret PIN is given"):
        agent.run("type {{PIN}}", planner=two_step_planner(), screen=FakeScreen(), dry_run=True, out=tmp_path)


def test_the_readme_example_runs_as_written_on_the_sandbox_form(x_session, tmp_path):
    section = README.read_text().split("## Python API", 1)[1]
    example = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    app = x_session.launch("form", geometry="700x560+40+30")
    app.wait_ready()
    result = subprocess.run([sys.executable, "-c", example], cwd=tmp_path, env=x_session.env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("done ") and "runs/" in result.stdout, result.stdout
    assert app.record()["state"]["name"] == "Ada Lovelace"
    assert "\n1 left_click(" in result.stdout
