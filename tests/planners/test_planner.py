"""The GLM planner with the real openai client against a loopback endpoint."""

import base64
import json

import cv2
import numpy as np
import pytest

from agent.core.actions import Click, Done, Key, TypeText
from agent.core.episode import EpisodeWriter, read_episode
from agent.core.errors import EndpointError, FormatError
from agent.core.executors import RecordingComputer
from agent.core.geometry import Monitor
from agent.core.loop import Agent, Limits
from agent.planners.glm import GLMConfig, GLMPlanner, json_size
from tests.support.endpoint import ScriptedEndpoint
from tests.support.fakes import FakeScreen, synthetic_frame

CLICK = "<think>The button is there.</think>Click it. <|begin_of_box|>left_click(start_box='[500,500]', " \
        "element_info='OK')<|end_of_box|>\nMemory:\n[{\"clicked\": \"%d\"}]"


def planner_for(endpoint, **config) -> GLMPlanner:
    return GLMPlanner(GLMConfig(**{"base_url": endpoint.url, "api_key": "test-key-123", "max_retries": 0, "timeout": 10,
                                   **config}))


def images_in(request) -> list[tuple[int, int]]:
    sizes = []
    for part in request["messages"][0]["content"]:
        if part["type"] == "image_url":
            data = base64.b64decode(part["image_url"]["url"].split(",", 1)[1])
            image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
            sizes.append((image.shape[1], image.shape[0]))
    return sizes


def text_of(request) -> str:
    return "".join(p.get("text", "") for p in request["messages"][0]["content"])


def test_with_secrets_given_the_action_space_says_type_types_them_by_name():
    with ScriptedEndpoint([CLICK % 0, CLICK % 1]) as endpoint:
        GLMPlanner(GLMConfig(base_url=endpoint.url, api_key="k", max_retries=0, timeout=10), secrets=["PW"]).decide(
            "Log in with {{PW}}", synthetic_frame())
        planner_for(endpoint).decide("Log in", synthetic_frame())
    told, untold = (text_of(request) for request in endpoint.requests)
    assert ("### type\nCall rule: `type(content='')`\nType text at the keyboard focus. It does not click or clear "
            "the field first. {{NAME}} in content types the secret NAME, which you never see (secrets given: "
            "{{PW}}).\n") in told
    assert "secret" not in untold


def test_each_step_is_one_user_message_with_history_capped_at_four_half_size_images():
    with ScriptedEndpoint([CLICK % n for n in range(6)]) as endpoint:
        planner = planner_for(endpoint)
        for shade in range(6):
            decision = planner.decide("Press OK", synthetic_frame(1280, 800, shade))
            assert decision.action == Click(point=(500, 500), element_info="OK")
    requests = endpoint.requests
    assert all(len(r["messages"]) == 1 and r["messages"][0]["role"] == "user" for r in requests)
    assert [len(images_in(r)) for r in requests] == [1, 2, 3, 4, 5, 5]
    assert images_in(requests[5]) == [(640, 400)] * 4 + [(1280, 800)]  # history at half size, current last
    assert requests[5]["messages"][0]["content"][-1]["type"] == "image_url"
    last = text_of(requests[5])
    assert "# Task:\nPress OK" in last and "# Task Platform\nUbuntu" in last and "### left_drag" in last
    assert ("step 1: Screenshot:(Omitted in context.) Thought: Click it.\n"
            "Action: left_click(start_box='[500,500]'") in last
    assert "step 2: Screenshot:" in last and "step 2: Screenshot: (omitted" not in last
    assert "Memory:\n[{\"clicked\": \"4\"}]" in last
    assert "The button is there" not in last  # hidden reasoning never goes back as history


def test_thinking_is_sent_in_both_dialects_and_box_tokens_are_kept():
    with ScriptedEndpoint(["DONE()", "DONE()"]) as endpoint:
        planner_for(endpoint).decide("t", synthetic_frame())
        planner_for(endpoint, thinking=False).decide("t", synthetic_frame())
    on, off = endpoint.requests
    assert on["thinking"] == {"type": "enabled"} and on["chat_template_kwargs"] == {"enable_thinking": True}
    assert off["thinking"] == {"type": "disabled"} and off["chat_template_kwargs"] == {"enable_thinking": False}
    assert on["skip_special_tokens"] is False and on["model"] == "glm-4.5v" and on["temperature"] == 0
    assert endpoint.headers[0]["authorization"] == "Bearer test-key-123"


@pytest.mark.parametrize("reply", [
    {"content": "DONE()", "reasoning_content": "from reasoning_content"},
    {"content": "DONE()", "reasoning": "from reasoning"},
    {"content": "<think>from reasoning</think>DONE()"},
])
def test_reasoning_is_read_from_every_place_servers_put_it(reply):
    with ScriptedEndpoint([reply]) as endpoint:
        decision = planner_for(endpoint).decide("t", synthetic_frame())
    assert decision.action == Done() and decision.reply.reasoning.startswith("from reasoning")


def test_a_correction_goes_back_to_the_model_and_an_unparsable_reply_keeps_its_raw_text():
    with ScriptedEndpoint(["I will click somewhere", "DONE()"]) as endpoint:
        planner = planner_for(endpoint)
        with pytest.raises(FormatError) as caught:
            planner.decide("t", synthetic_frame())
        assert caught.value.reply.raw == "I will click somewhere"
        planner.decide("t", synthetic_frame(), feedback="Your previous reply could not be used: no action call")
    assert "# Correction\nYour previous reply could not be used" in text_of(endpoint.requests[1])
    assert "# Correction" not in text_of(endpoint.requests[0])


def test_a_reply_cut_off_at_the_token_limit_says_so():
    with ScriptedEndpoint([{"content": "I will left_click(start_box='[1", "finish_reason": "length"}]) as endpoint:
        with pytest.raises(FormatError, match="cut off at the token limit"):
            planner_for(endpoint).decide("t", synthetic_frame())


def test_request_size_and_image_tokens_are_reported():
    with ScriptedEndpoint(["DONE()"]) as endpoint:
        decision = planner_for(endpoint).decide("t", synthetic_frame(1280, 720))
    assert decision.reply.request["images"] == 1 and decision.reply.request["image_tokens"] == 1196
    assert decision.reply.request["bytes"] == len(json.dumps(endpoint.requests[0]["messages"]))
    assert decision.reply.usage["prompt_tokens"] == 1000


def test_request_bytes_are_counted_without_serialising_the_screenshots_again():
    url = "data:image/png;base64," + base64.b64encode(bytes(range(256)) * 99).decode()
    image = {"type": "image_url", "image_url": {"url": url}}
    call = {"id": "c1", "type": "function", "function": {"name": "click", "arguments": '{"a": 1}'}}
    messages = [{"role": "user", "content": [{"type": "text", "text": 'Tâche: "ñ" \\ \n\t\u2028 {x}'}, image]},
                {"role": "assistant", "content": None, "tool_calls": [call]},
                {"role": "tool", "tool_call_id": "c1", "content": "performed"},
                {"role": "user", "content": [{"type": "text", "text": "(screenshot omitted)"}, image]}]
    assert json_size(messages) == len(json.dumps(messages))


@pytest.mark.parametrize("reply, message", [
    ({"status": 500}, "HTTP 500"),
    ({"status": 401}, "refused the API key"),
    ({"status": 404}, "has no model"),
    ({"status": 200, "body": "<html>not json</html>"}, "not a chat completion|no choices"),
    ({"status": 200, "body": {"id": "x", "object": "chat.completion", "choices": []}}, "no choices"),
])
def test_endpoint_failures_are_one_line_errors(reply, message):
    with ScriptedEndpoint([reply]) as endpoint:
        with pytest.raises(EndpointError, match=message) as caught:
            planner_for(endpoint).decide("t", synthetic_frame())
    assert "\n" not in str(caught.value)


def test_a_dead_endpoint_is_a_one_line_error():
    planner = GLMPlanner(GLMConfig(base_url="http://127.0.0.1:9/v1", max_retries=0, timeout=5))
    with pytest.raises(EndpointError, match="cannot reach http://127.0.0.1:9/v1"):
        planner.decide("t", synthetic_frame())


B, E = "<|begin_of_box|>", "<|end_of_box|>"
STEPS = [f"I close the error. {B}left_click(start_box='[586, 446]', element_info='OK button'){E}\nMemory:\n[]",
         f"I fill in the name. {B}type(content='Ada')\nkey(keys='Return'){E}\n"
         "Memory:\n[{\"name\": \"Ada\"}]</answer>",
         "WAIT()", "WAIT()", "WAIT()", "DONE()"]


def test_the_history_keeps_the_models_own_call_text_and_the_official_placeholders():
    with ScriptedEndpoint(STEPS) as endpoint:
        planner = planner_for(endpoint)
        decisions = [planner.decide("Fill in", synthetic_frame(640, 400, shade)) for shade in range(6)]
    assert decisions[1].actions == [TypeText(content="Ada"), Key(keys="enter")]  # both calls of the box, in order
    first, last = text_of(endpoint.requests[0]), text_of(endpoint.requests[5])
    assert "History:\nMemory:\n[]" in first  # nothing after History: before the first step
    assert ("step 1: Screenshot:(Omitted in context.) Thought: I close the error.\n"
            "Action: left_click(start_box='[586, 446]', element_info='OK button')\nstep 2: Screenshot:") in last
    assert " Thought: I fill in the name.\nAction: type(content='Ada')\nkey(keys='Return')\nstep 3:" in last
    assert "Memory:\n[{\"name\": \"Ada\"}]\n" in text_of(endpoint.requests[2])  # no </answer> carried along


def test_a_reply_holding_a_lone_surrogate_is_kept_as_text_and_the_next_request_is_sent():
    # invented reply: JSON's "\\ud800" decodes to a lone surrogate, which UTF-8 cannot encode
    with ScriptedEndpoint(["I see \ud800 here.\n<|begin_of_box|>WAIT()<|end_of_box|>", "DONE()"]) as endpoint:
        planner = planner_for(endpoint)
        first = planner.decide("Look", synthetic_frame(640, 400, 0))
        planner.decide("Look", synthetic_frame(640, 400, 1))
    assert "I see ? here." in first.reply.raw
    assert "I see ? here." in text_of(endpoint.requests[1])


def test_a_resumed_run_asks_with_the_history_it_would_have_had(tmp_path):
    def agent(endpoint, out, planner=None, steps=10, resume_from=None):
        return Agent("Fill in", planner or planner_for(endpoint), RecordingComputer(Monitor(0, 0, 640, 400)),
                     FakeScreen(640, 400), EpisodeWriter(out, resume=resume_from is not None),
                     limits=Limits(steps=steps), resume_from=resume_from)

    with ScriptedEndpoint(STEPS) as endpoint:
        assert agent(endpoint, tmp_path / "whole").run() == ("done", "")
    uninterrupted = endpoint.requests[5]
    with ScriptedEndpoint(STEPS[:5]) as endpoint:
        assert agent(endpoint, tmp_path / "run", steps=5).run()[0] == "step_limit"
    with ScriptedEndpoint(STEPS[5:]) as endpoint:
        planner = planner_for(endpoint)
        planner.restore(read_episode(tmp_path / "run"))
        assert agent(endpoint, tmp_path / "run", planner, resume_from={"steps": 5, "tokens": 0}).run() == ("done", "")
    assert text_of(endpoint.requests[0]) == text_of(uninterrupted)
    assert "Action: type(content='Ada')\nkey(keys='Return')" in text_of(uninterrupted)


def test_a_reply_cut_off_inside_its_reasoning_is_asked_again_and_its_draft_never_done():
    cut = {"content": "<think>I could left_click(start_box='[1,1]') but", "finish_reason": "length"}
    with ScriptedEndpoint([cut, "DONE()"]) as endpoint:
        decision = planner_for(endpoint, max_retries=1, backoff=0.01).decide("t", synthetic_frame())
    assert decision.actions == [Done()]
    assert "ended inside <think>" in decision.reply.attempts[0]["error"]


def test_with_thinking_off_an_answer_sent_as_reasoning_is_read_but_never_with_thinking_on():
    answer = {"content": "", "reasoning_content": "I click OK. <|begin_of_box|>left_click(start_box='[5,5]')"
                                                   "<|end_of_box|>\nMemory:\n[]"}
    with ScriptedEndpoint([answer, answer]) as endpoint:
        assert planner_for(endpoint, thinking=False).decide("t", synthetic_frame()).action == Click(point=(5, 5))
        with pytest.raises(FormatError, match="no action call"):
            planner_for(endpoint).decide("t", synthetic_frame())
