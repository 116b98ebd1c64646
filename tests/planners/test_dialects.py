"""Dialects as plug-ins: a toy dialect written as one new module, outside the package, is registered on
import and runs, resumes and replays through the API against the loopback endpoint, and the CLI offers
it; one dropped in as agent/planners/dialect_NAME.py is known by name before it is imported."""

import importlib
import json
import sys
import textwrap

import pytest

import agent
from agent.cli import build_parser
from agent.core.errors import AgentError
from agent.core.executors import RecordingComputer
from agent.core.geometry import Monitor
from agent.planners import dialects
from tests.support.endpoint import ScriptedEndpoint
from tests.support.fakes import FakeScreen

TOY = '''
"""A toy dialect: the task and the calls done so far as JSON; one JSON object back,
{"say": EXPLANATION, "do": CALL NAME, "with": {ARGUMENTS}."""

import json

from agent.core.errors import FormatError
from agent.core.planner import Decision, Reply
from agent.planners.dialects import register
from agent.planners.reply import build_action
from agent.planners.transport import Dialect, reply_parts


@register("NAME")
class ToyPlanner(Dialect):
    def __init__(self, config, skills=None, secrets=None):
        super().__init__(config, skills, secrets)
        self.done = []

    def decide(self, task, frame, feedback=None):
        prompt = json.dumps({"task": task, "done": self.done, "feedback": feedback,
                             "screen": [frame.width, frame.height]})
        body = self.transport.body([{"role": "user", "content": prompt}])

        def read(response, attempts):
            content, reasoning, usage = reply_parts(response, self.config.thinking)
            return self.read(Reply(content, reasoning, usage, finish_reason=response.choices[0].finish_reason,
                                   attempts=attempts))

        decision = self.transport.ask(body, read)
        self.done.append(decision.action.call())
        return decision

    def restore(self, episode):
        self.done = [step["call"] for step in episode.steps if "call" in step]

    @staticmethod
    def read(reply):
        try:
            said = json.loads(reply.raw)
            action = build_action(said["do"], said.get("with", {}))
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise FormatError(f"answer with one JSON object {{say, do, with}}: {error}", reply) from None
        return Decision(reply, action, said.get("say", ""), None)
'''

CLICK = json.dumps({"say": "the middle", "do": "left_click",
                    "with": {"start_box": [500, 500], "element_info": "middle"}})
DONE = json.dumps({"say": "clicked", "do": "DONE"})


def plug_in(folder, module: str, name: str):
    (folder / f"{module}.py").write_text(textwrap.dedent(TOY.replace("NAME", name)))
    sys.path.insert(0, str(folder))
    return folder / f"{module}.py"


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """The toy dialect's module, written outside the package and imported as a caller would."""
    folder = tmp_path_factory.mktemp("plugin")
    plug_in(folder, "toy_dialect", "toy")
    importlib.import_module("toy_dialect")
    yield "toy"
    sys.path.remove(str(folder))
    sys.modules.pop("toy_dialect", None)
    dialects._DIALECTS.pop("toy", None)


def prompts(endpoint) -> list[dict]:
    return [json.loads(request["messages"][0]["content"]) for request in endpoint.requests]


def test_a_toy_dialect_in_its_own_module_runs_through_the_api_with_the_shared_transport(toy, tmp_path):
    computer = RecordingComputer(Monitor(0, 0, 1280, 800))
    replies = ["not json", {"status": 503}, CLICK, DONE]  # a format error fed back, a retried 503
    with ScriptedEndpoint(replies) as endpoint:
        result = agent.run("click the middle", protocol=toy, base_url=endpoint.url, api_key="sk-test", retries=1,
                           snap=False, computer=computer, screen=FakeScreen(), out=tmp_path / "run",
                           stop_keys="none", report=False)
    assert (result.status, result.steps) == ("done", 3), result.message
    assert computer.calls == [("click", (640, 400), "left", 1)]
    asked = prompts(endpoint)
    assert "answer with one JSON object" in asked[1]["feedback"] and asked[1] == asked[2]  # the 503 asked again
    assert asked[3]["done"] == ["left_click(start_box='[500,500]', element_info='middle')"]
    assert endpoint.requests[0]["skip_special_tokens"] is False  # the transport's request
    episode = agent.read_episode(result.episode)
    assert episode.header["planner"] == "toy" and episode.header["settings"]["protocol"] == "toy"
    assert episode.steps[1]["attempts"][0]["error"].startswith(f"{endpoint.url} answered HTTP 503")


def test_the_cli_and_the_options_offer_a_registered_dialect_and_name_the_choices_for_an_unknown_one(toy):
    assert "toy" in dialects.names() and {"text", "tools"} <= set(dialects.names())
    assert build_parser().parse_args(["run", "click", "--protocol", "toy"]).protocol == "toy"
    with pytest.raises(AgentError, match=r"^option protocol: no dialect 'xml'; choose text, tools, toy$"):
        agent.run("x", protocol="xml")


def test_a_toy_run_resumes_and_replays_through_the_api(toy, x_session, tmp_path, monkeypatch):
    monkeypatch.setenv("XAUTHORITY", x_session.env["XAUTHORITY"])
    where = {"display": x_session.display, "dry_run": True, "stop_keys": "none", "report": False, "snap": False}
    with ScriptedEndpoint([CLICK]) as endpoint:
        first = agent.run("click the middle", protocol=toy, base_url=endpoint.url, api_key="sk-test", retries=0,
                          max_steps=1, out=tmp_path / "run", **where)
    assert first.status == "step_limit", first.message
    with ScriptedEndpoint([DONE]) as endpoint:
        resumed = agent.resume(first.episode, base_url=endpoint.url, api_key="sk-test", **where)
    assert resumed.status == "done", resumed.message
    assert prompts(endpoint)[0]["done"] == ["left_click(start_box='[500,500]', element_info='middle')"]
    replayed = agent.replay(first.episode, out=tmp_path / "replay", **where)
    assert (replayed.status, replayed.steps) == ("done", 2), replayed.message
    assert [step["call"] for step in agent.read_episode(replayed.episode).steps] == \
           ["left_click(start_box='[500,500]', element_info='middle')", "DONE()"]


def test_a_dialect_file_added_to_the_folder_is_offered_before_it_is_imported(tmp_path, monkeypatch):
    plug_in(tmp_path, "dialect_pebble", "pebble")
    monkeypatch.setitem(dialects.ADDED_IN, tmp_path, "")
    try:
        assert "pebble" in dialects.names() and "dialect_pebble" not in sys.modules
        assert dialects.dialect("pebble").__module__ == "dialect_pebble"
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("dialect_pebble", None)
        dialects._DIALECTS.pop("pebble", None)


def test_an_episode_of_each_built_in_dialect_finds_its_dialect_by_its_planner_name():
    from agent.core.episode import Episode

    def of(planner):
        found = dialects.of_episode(Episode(path=None, header={"planner": planner}, steps=[], end=None))
        return found and found.protocol

    assert (of("glm"), of("tools"), of("local"), of("demonstration")) == ("text", "tools", None, None)


def test_a_resumed_tools_run_asks_with_the_tool_choice_it_last_asked_with():
    from agent.core.episode import Episode
    from agent.planners.glm_tools import ToolsConfig, ToolsPlanner

    planner = ToolsPlanner(ToolsConfig(base_url="http://127.0.0.1:9/v1"))
    asked = [{"index": 1, "request": {"tool_choice": "auto"}}, {"index": 2, "request": {"tool_choice": 7}}]
    planner.restore(Episode(path=None, header={"planner": "tools"}, steps=asked))
    assert planner.tool_choice == "auto"  # the server refused 'required'; a value no server takes is passed over
