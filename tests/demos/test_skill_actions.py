"""Skills offered to GLM-4.5V as one action (`--skills`), in the text and the tools dialect."""

import json

import pytest

from agent.core.episode import read_episode
from tests.planners.test_tools import tool_reply
from tests.support.endpoint import ScriptedEndpoint
from tests.support.scenarios import gui_agent

TICK = {"name": "click_text", "params": {"text": "Subscribe"}}


@pytest.mark.parametrize("protocol", ["text", "tools"])
def test_the_model_runs_a_skill_as_one_step(protocol, x_session, tmp_path):
    app = x_session.launch("form", geometry="700x560+40+30")
    app.wait_ready()
    if protocol == "text":
        replies = [f"Tick it with a skill. skill(name='click_text', params='{json.dumps(TICK['params'])}')",
                   "skill(name='no_such_skill')", "DONE()"]
    else:
        replies = [tool_reply(("skill", TICK)), tool_reply(("skill", {"name": "no_such_skill"})),
                   tool_reply(("DONE", {}))]
    with ScriptedEndpoint(replies) as endpoint:
        result = gui_agent("run", "tick Subscribe", "--protocol", protocol, "--skills", "--python-skills",
                           "--base-url", endpoint.url,
                           "--display", x_session.display, "--out", str(tmp_path / "run"), env=x_session.env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert app.record()["state"]["subscribe"] is True
    first = json.dumps(endpoint.requests[0])
    assert "click_text(text: str, double: bool = False)" in first  # the skills were offered
    steps = read_episode(tmp_path / "run").steps
    assert steps[0]["action"] == {"type": "skill", **TICK} and steps[0]["outcome"] == "ok"
    assert steps[1]["outcome"] == "action_error" and "no skill named no_such_skill" in steps[1]["error"]
    assert read_episode(tmp_path / "run" / "skill-001").end["status"] == "done"
    if protocol == "text":  # a replay runs the skill again (its code: --python-skills is given again)
        app.process.terminate()
        again = x_session.launch("form", geometry="700x560+40+30")
        again.wait_ready()
        replayed = gui_agent("replay", str(tmp_path / "run"), "--python-skills", "--display", x_session.display,
                             "--out", str(tmp_path / "replay"), env=x_session.env)
        assert replayed.returncode == 0, replayed.stdout + replayed.stderr
        assert again.record()["state"]["subscribe"] is True


def test_skills_are_not_offered_without_the_flag(x_session, tmp_path):
    app = x_session.launch("form", geometry="700x560+40+30")
    app.wait_ready()
    with ScriptedEndpoint(["skill(name='click_text', params='{\"text\": \"Subscribe\"}')", "DONE()"]) as endpoint:
        result = gui_agent("run", "tick Subscribe", "--base-url", endpoint.url, "--display", x_session.display,
                           "--out", str(tmp_path / "run"), env=x_session.env)
    assert result.returncode == 0, result.stdout
    assert "### skill" not in json.dumps(endpoint.requests[0])
    step = read_episode(tmp_path / "run").steps[0]
    assert step["outcome"] == "action_error" and "start it with --skills" in step["error"]
    assert app.record()["state"]["subscribe"] is False
