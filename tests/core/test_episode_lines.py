"""Every line is written through the model it is read with: a line the schema refuses is never written."""

import json

import pytest

from agent.core.defaults import Outcome, PlannerKind, Status
from agent.core.episode import EPISODE_FILE, EpisodeWriter, Step, read_episode
from agent.core.errors import EpisodeError

CLICK = {"type": "click", "point": [500, 500], "button": "left"}


def lines(folder) -> list[dict]:
    return [json.loads(line) for line in (folder / EPISODE_FILE).read_text().splitlines()]


@pytest.mark.parametrize("write, refusal", [
    (lambda w: w.step({"screenshot": "step-001.png", "outcome": "ok"}),
     "the step line was not written: field 'index' is missing"),
    (lambda w: w.step({"index": "1"}), "the step line was not written: field 'index' must be an integer"),
    (lambda w: w.step({"index": 1, "outcome": "okay"}),
     ("the step line was not written: field 'outcome' must be one of ok, refused, not_repeated, action_error, "
      "format_error, not_found, done, error, failed, step_limit, format_errors, endpoint_error, stuck, time_limit, "
      "token_limit, needs_confirmation, interrupted, not 'okay'")),
    (lambda w: w.step({"index": 1, "then": [{"outcome": "fine"}]}),
     "the step line was not written: field 'then.0.outcome' must be one of"),
    (lambda w: w.act(step=1, call="click(...)"), "the act line was not written: field 'action' is missing"),
    (lambda w: w.act(step=1, call="zap()", action={"type": "zap"}),
     "the act line was not written: field 'action' is not an action gui-agent knows"),
    (lambda w: w.resume(agent_version="1"), "the resume line was not written: field 'after_step' is missing"),
    (lambda w: w.end("finished"), "the end line was not written: field 'status' must be one of done, error, failed,"),
])
def test_a_line_the_schema_refuses_is_not_written_and_the_refusal_is_one_line(tmp_path, write, refusal):
    writer = EpisodeWriter(tmp_path, resume=False)
    writer.header(task="t", planner=PlannerKind.GLM)
    written = (tmp_path / EPISODE_FILE).read_bytes()
    with pytest.raises(EpisodeError) as refused:
        write(writer)
    assert str(refused.value).startswith(refusal) and "\n" not in str(refused.value)
    assert (tmp_path / EPISODE_FILE).read_bytes() == written


def test_a_line_holds_exactly_the_fields_given_as_given(tmp_path):
    """None is written null, a field not given stays out, an integer stays one, a point held as a tuple
    is a list, a status is its text; fields the schema does not name are kept (a newer agent's)."""
    writer = EpisodeWriter(tmp_path)
    writer.header(task="t", planner=PlannerKind.GLM, settings={"temperature": 0, "confirm": "never"},
                  screen={"left": 0, "top": 0, "width": 1000, "height": 800, "scale": 1})
    writer.act(step=1, call="click(...)", action=CLICK, screen={"point": (640, 360)})
    writer.step({"index": 1, "outcome": Outcome.OK, "error": None, "action": CLICK, "screen": {"point": (640, 360)},
                 "timings": {"act": 0.25, "settle": 1}, "then": [{"outcome": Outcome.REFUSED, "error": "no"}],
                 "newer": (1, 2)})
    writer.step(Step(index=2, outcome=Status.INTERRUPTED, cut="during", typed=3))
    writer.end(Status.DONE, steps=2)

    header, act, step, typed_step, end = lines(tmp_path)
    assert header["settings"] == {"temperature": 0, "confirm": "never"} and header["screen"]["scale"] == 1
    assert act == {"kind": "act", "step": 1, "call": "click(...)", "action": CLICK, "screen": {"point": [640, 360]}}
    assert step == {"kind": "step", "index": 1, "outcome": "ok", "error": None, "action": CLICK,
                    "screen": {"point": [640, 360]}, "timings": {"act": 0.25, "settle": 1},
                    "then": [{"outcome": "refused", "error": "no"}], "newer": [1, 2]}
    assert '"point": [640, 360]' in (tmp_path / EPISODE_FILE).read_text()  # not 640.0
    assert typed_step == {"kind": "step", "index": 2, "outcome": "interrupted", "cut": "during", "typed": 3}
    assert end.keys() == {"kind", "status", "message", "seconds", "ended", "steps"} and end["status"] == "done"
    assert len(read_episode(tmp_path).steps) == 2


def test_a_reader_still_takes_a_status_or_outcome_a_newer_agent_may_write(tmp_path):
    writer = EpisodeWriter(tmp_path)
    writer.header(task="t")
    writer.step({"index": 1, "outcome": "ok"})
    writer.end(Status.DONE)
    file = tmp_path / EPISODE_FILE
    file.write_text(file.read_text().replace('"ok"', '"postponed"').replace('"done"', '"paused"'))
    episode = read_episode(tmp_path)
    assert (episode.steps[0]["outcome"], episode.end["status"]) == ("postponed", "paused")
