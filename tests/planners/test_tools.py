"""The tool-calling dialect: tools made from the one action definition, lenient reading of tool calls
and of GLM's raw tool-call text, and the ToolsPlanner conversation against the loopback endpoint."""

import json

import jsonschema
import pytest

from agent.core.actions import (
    GLM_CALLS,
    Click,
    Done,
    DoubleClick,
    Drag,
    Fail,
    Hover,
    Key,
    RunSkill,
    Scroll,
    TypeText,
    Wait,
)
from agent.core.episode import EpisodeWriter, read_episode
from agent.core.errors import EndpointError, FormatError
from agent.core.executors import RecordingComputer
from agent.core.geometry import Monitor
from agent.core.loop import Agent, Limits
from agent.core.planner import Reply
from agent.core.screen import Frame
from agent.planners.glm import GLMConfig
from agent.planners.glm_tools import (
    OMITTED,
    ToolsConfig,
    ToolsPlanner,
    actions_from_tool_calls,
    interpret_tools,
    parse_glm_tool_text,
    tool_definitions,
)
from agent.planners.reply import parse_reply
from tests.support import EPISODES
from tests.support.endpoint import ScriptedEndpoint
from tests.support.fakes import FakeScreen, synthetic_frame
from tests.support.scenarios import HEIGHT, WIDTH, Script, centre, gui_agent

SCREENSHOT = EPISODES / "form" / "step-001.png"  # a real 1366x768 sandbox screen


def tool_reply(*calls, content=None, finish_reason="tool_calls", **message):
    """A chat completion whose message holds OpenAI tool calls: (name, arguments) pairs; arguments
    that are not text are sent as JSON text. Served whole through ScriptedEndpoint's status/body."""
    tool_calls = [{"id": f"call-{n}", "type": "function",
                   "function": {"name": name, "arguments": args if isinstance(args, str) else json.dumps(args)}}
                  for n, (name, args) in enumerate(calls, 1)]
    message = {"role": "assistant", "content": content, **({"tool_calls": tool_calls} if tool_calls else {}), **message}
    return {"status": 200, "body": {"id": "chatcmpl-t", "object": "chat.completion", "created": 0, "model": "glm-4.5v",
                                    "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
                                    "usage": {"prompt_tokens": 1000, "completion_tokens": 50, "total_tokens": 1050}}}


def planner_for(endpoint, **config) -> ToolsPlanner:
    return ToolsPlanner(ToolsConfig(**{"base_url": endpoint.url, "api_key": "test-key-123", "max_retries": 0,
                                       "timeout": 10, **config}))


def call(name, arguments) -> dict:
    return {"id": "x", "type": "function", "function": {"name": name, "arguments": arguments}}


def planned(decision) -> list:
    return [decision.action, *decision.then]


# -- the tools, from the one definition --------------------------------------------------------

TOOLS = {tool["function"]["name"]: tool["function"] for tool in tool_definitions()}


def test_every_glm_call_is_a_tool_with_a_valid_schema_and_the_text_prompt_names_the_same_calls():
    from agent.planners.prompt import action_space_text

    assert list(TOOLS) == [call.name for call in GLM_CALLS if call.always] == [
        "left_click", "right_click", "middle_click", "hover", "left_double_click", "left_drag", "key", "type",
        "scroll", "WAIT", "DONE", "FAIL"]
    assert "### skill" not in action_space_text()  # offered only with skills
    for name, tool in TOOLS.items():
        jsonschema.Draft202012Validator.check_schema(tool["parameters"])
        assert tool["description"] and f"### {name}\nCall rule: `{name}(" in action_space_text()
        assert all(schema.get("description") for schema in tool["parameters"]["properties"].values())


SECRET_SENTENCE = "{{NAME}} in content types the secret NAME, which you never see (secrets given: {{PW}}, {{USER}})."


def test_with_secrets_both_dialects_say_in_type_how_to_type_one_naming_the_secrets_never_their_values():
    from agent.planners.prompt import action_space_text

    tools = {tool["function"]["name"]: tool["function"] for tool in tool_definitions(secrets=["PW", "USER"])}
    assert tools["type"]["description"].endswith(SECRET_SENTENCE)
    assert [name for name, tool in tools.items() if "secret" in tool["description"]] == ["type"]
    text = action_space_text(secrets=["PW", "USER"])
    type_section = text.split("### type\n", 1)[1].split("###", 1)[0]
    assert SECRET_SENTENCE in type_section and text.count("secret") == 2
    assert "secret" not in json.dumps(tool_definitions()) + action_space_text()  # none given: nothing said
    assert "secret" not in json.dumps(tool_definitions(secrets=[])) + action_space_text(secrets=[])


SKILLS = [{"name": "click_text", "kind": "python", "description": "Click the text TEXT on the screen.",
           "params": [{"name": "text", "type": "str", "default": None},
                      {"name": "double", "type": "bool", "default": False}]}]


def test_skills_are_offered_in_both_dialects_only_when_given():
    from agent.planners.prompt import action_space_text

    tools = {tool["function"]["name"]: tool["function"] for tool in tool_definitions(SKILLS)}
    assert list(tools)[-1] == "skill"
    assert "- click_text(text: str, double: bool = False)" in tools["skill"]["description"]
    jsonschema.Draft202012Validator.check_schema(tools["skill"]["parameters"])
    text = action_space_text(SKILLS)
    assert "### skill\nCall rule: `skill(name='', params='{}')`" in text
    assert "Skills:\n- click_text(text: str, double: bool = False): Click the text TEXT on the screen." in text
    arguments = {"name": "click_text", "params": {"text": "Subscribe"}}
    jsonschema.validate(arguments, tools["skill"]["parameters"])
    assert actions_from_tool_calls([call("skill", json.dumps(arguments))]) == [
        RunSkill(name="click_text", params={"text": "Subscribe"})]
    assert parse_reply("skill(name='click_text', params='{\"text\": \"Subscribe\"}')").action == \
        RunSkill(name="click_text", params={"text": "Subscribe"})
    with pytest.raises(FormatError, match="params must be a JSON object"):
        parse_reply("skill(name='click_text', params='text=Subscribe')")


def sample(schema: dict, extreme: int) -> object:
    """A value the schema allows: its low end (extreme 0) or its high end (extreme 1)."""
    if "anyOf" in schema:
        return sample(schema["anyOf"][extreme], extreme)
    if schema["type"] == "array":
        return [sample(schema["items"], extreme)] * schema["minItems"]
    if schema["type"] == "integer":
        return schema["maximum"] if extreme else schema["minimum"]
    return schema["enum"][extreme] if "enum" in schema else ("x" if extreme else "a")


@pytest.mark.parametrize("name", TOOLS)
@pytest.mark.parametrize("extreme", [0, 1])
@pytest.mark.parametrize("only_required", [True, False])
def test_arguments_sampled_from_each_schema_make_an_action(name, extreme, only_required):
    parameters = TOOLS[name]["parameters"]
    arguments = {key: sample(schema, extreme) for key, schema in parameters["properties"].items()
                 if not only_required or key in parameters["required"]}
    jsonschema.validate(arguments, parameters)
    [action] = actions_from_tool_calls([call(name, json.dumps(arguments))])
    assert action.call().split("(")[0] == name  # and the action writes the same call back


GOOD = [  # hand-made arguments the schemas accept, and the action each makes
    ("left_click", {"start_box": [500, 300], "element_info": "OK"}, Click(point=(500, 300), element_info="OK")),
    ("right_click", {"start_box": [0, 999]}, Click(point=(0, 999), button="right")),
    ("middle_click", {"start_box": [100, 200, 300, 400]}, Click(point=(200, 300), button="middle")),
    ("hover", {"start_box": [5, 6], "element_info": "menu"}, Hover(point=(5, 6), element_info="menu")),
    ("left_double_click", {"start_box": [10, 20]}, DoubleClick(point=(10, 20))),
    ("left_drag", {"start_box": [10, 10], "end_box": [900, 10], "element_info": "slider"},
     Drag(start=(10, 10), end=(900, 10), element_info="slider")),
    ("key", {"keys": "ctrl+s"}, Key(keys="ctrl+s")),
    ("type", {"content": "Zoë\nnext line"}, TypeText(content="Zoë\nnext line")),
    ("scroll", {"start_box": [500, 600], "direction": "up"}, Scroll(point=(500, 600), direction="up", steps=5)),
    ("scroll", {"start_box": [500, 600], "direction": "down", "step": 50, "element_info": "list"},
     Scroll(point=(500, 600), direction="down", steps=50, element_info="list")),
    ("WAIT", {}, Wait()), ("DONE", {}, Done()), ("FAIL", {}, Fail()),
]


@pytest.mark.parametrize("name, arguments, action", GOOD)
def test_arguments_the_schema_accepts_make_the_expected_action(name, arguments, action):
    jsonschema.validate(arguments, TOOLS[name]["parameters"])
    assert actions_from_tool_calls([call(name, json.dumps(arguments))]) == [action]


BAD = [  # arguments the schemas refuse are refused by the reader too
    ("left_click", {"start_box": [1000, 5]}, "off the screen"),
    ("left_click", {"start_box": [1, 2, 3]}, "not a point"),
    ("left_click", {"element_info": "OK"}, "start_box is missing"),
    ("left_drag", {"start_box": [1, 2]}, "end_box is missing"),
    ("key", {}, "keys is missing"),
    ("type", {}, "content is missing"),
    ("scroll", {"start_box": [1, 2], "direction": "sideways"}, "direction"),
    ("scroll", {"start_box": [1, 2], "direction": "down", "step": 0}, "greater than or equal to 1"),
    ("scroll", {"start_box": [1, 2], "direction": "down", "step": 51}, "less than or equal to 50"),
]


@pytest.mark.parametrize("name, arguments, message", BAD)
def test_arguments_the_schema_refuses_are_format_errors(name, arguments, message):
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(arguments, TOOLS[name]["parameters"])
    with pytest.raises(FormatError, match=message):
        actions_from_tool_calls([call(name, json.dumps(arguments))])


# -- reading tool calls ------------------------------------------------------------------------

CLICK = Click(point=(500, 300), element_info="OK")


@pytest.mark.parametrize("arguments", [
    '{"start_box": [500, 300], "element_info": "OK"}',  # the standard: JSON text
    {"start_box": [500, 300], "element_info": "OK"},  # already parsed
    json.dumps(json.dumps({"start_box": [500, 300], "element_info": "OK"})),  # encoded twice
    '{"start_box": ["500", "300"], "element_info": "OK"}',  # numbers as strings
    '{"start_box": "[500, 300]", "element_info": "OK"}',  # the point as text
    '{"start_box": "(500,300)", "element_info": "OK"}',
    '{"start_box": "[[450,250,550,350]]", "element_info": "OK"}',  # a box: its centre
    '{"start_box": [[450, 250, 550, 350]], "element_info": "OK"}',
    '{"start_box": [499.6, 300.2], "element_info": "OK"}',
])
def test_tool_call_argument_variants_all_read(arguments):
    assert actions_from_tool_calls([call("left_click", arguments)]) == [CLICK]


def test_other_variants_numbers_as_strings_any_case_objects_and_empty_arguments():
    from openai.types.chat import ChatCompletionMessageToolCall

    scroll = call("scroll", '{"start_box": "500,600", "direction": "DOWN", "step": "3"}')
    typed = ChatCompletionMessageToolCall(id="c", type="function",
                                          function={"name": "type", "arguments": '{"content": 42}'})
    assert actions_from_tool_calls([scroll, typed, call("done", ""), call("WAIT", None), call("FAIL", "{}")]) == [
        Scroll(point=(500, 600), direction="down", steps=3), TypeText(content="42"), Done(), Wait(), Fail()]


@pytest.mark.parametrize("bad, message", [
    (call("left_click", '{"start_box": [500, 300'), r"tool call 2 \(left_click\): its arguments are not JSON"),
    (call("left_click", "[500, 300]"), r"tool call 2 \(left_click\): its arguments are not a JSON object"),
    (call("click", '{"start_box": [500, 300]}'), r"tool call 2 \(click\): there is no tool 'click'"),
    (call("left_click", '{"start_box": [true, false]}'), r"tool call 2 \(left_click\): start_box=.* is not a point"),
    (call("left_click", '{"start_box": "the OK button"}'), r"tool call 2 \(left_click\): start_box=.* is not a point"),
    (call("scroll", '{"start_box": [1, 1], "direction": "up", "step": "lots"}'),
     r"tool call 2 \(scroll\): step=.* number"),
    (call("type", '{"content": ["a"]}'), r"tool call 2 \(type\): content=.* is not text"),
    (call("key", '{"keys": "hyper+q"}'), r"tool call 2 \(key\): .*unknown key"),
])
def test_a_bad_call_is_a_format_error_naming_it_and_keeps_the_actions_before_it(bad, message):
    with pytest.raises(FormatError, match=message) as caught:
        actions_from_tool_calls([call("left_click", '{"start_box": [500, 300], "element_info": "OK"}'), bad,
                                 call("DONE", "{}")])
    assert caught.value.actions == [CLICK]


# -- GLM's raw tool-call text ------------------------------------------------------------------

def test_raw_tool_call_text_reads_one_block():
    text = ("I click OK.<tool_call>left_click\n<arg_key>start_box</arg_key>\n<arg_value>[500, 300]</arg_value>\n"
            "<arg_key>element_info</arg_key>\n<arg_value>OK</arg_value>\n</tool_call>")
    assert parse_glm_tool_text(text) == [("left_click", {"start_box": [500, 300], "element_info": "OK"})]


def test_raw_tool_call_text_reads_several_blocks_whitespace_variations_newlines_and_json():
    text = ("<tool_call> left_click <arg_key> start_box </arg_key>  <arg_value>[10,20]</arg_value></tool_call>\n"
            "<tool_call>type\\n<arg_key>content</arg_key>\\n<arg_value>Line one\nLine two</arg_value>\\n</tool_call>"
            "<tool_call>scroll\n<arg_key>start_box</arg_key>\n\n<arg_value>(5, 6)</arg_value>\n"
            "<arg_key>direction</arg_key><arg_value>down</arg_value><arg_key>step</arg_key><arg_value>3</arg_value>"
            "\n</tool_call><tool_call>type\n<arg_key>content</arg_key>\n<arg_value>1.50</arg_value>\n</tool_call>"
            "<tool_call>DONE\n</tool_call>")
    calls = parse_glm_tool_text(text)
    assert calls == [("left_click", {"start_box": [10, 20]}), ("type", {"content": "Line one\nLine two"}),
                     ("scroll", {"start_box": "(5, 6)", "direction": "down", "step": 3}),
                     ("type", {"content": "1.50"}),  # a text parameter stays text even when it reads as JSON
                     ("DONE", {})]
    assert actions_from_tool_calls([{"function": {"name": n, "arguments": a}} for n, a in calls]) == [
        Click(point=(10, 20)), TypeText(content="Line one\nLine two"), Scroll(point=(5, 6), direction="down", steps=3),
        TypeText(content="1.50"), Done()]


def test_raw_tool_call_text_is_never_evaluated_and_an_open_block_is_a_format_error():
    assert parse_glm_tool_text("no calls here") == []
    [(name, arguments)] = parse_glm_tool_text(
        "<tool_call>left_click<arg_key>start_box</arg_key>"
        "<arg_value>__import__('os').system('x')</arg_value></tool_call>")
    assert arguments == {"start_box": "__import__('os').system('x')"}
    with pytest.raises(FormatError, match="not a point"):
        actions_from_tool_calls([{"function": {"name": name, "arguments": arguments}}])
    with pytest.raises(FormatError, match="not closed"):
        parse_glm_tool_text("<tool_call>left_click<arg_key>start_box</arg_key><arg_value>[1,")


# -- the planner against the loopback endpoint ------------------------------------------------

def texts(message) -> str:
    content = message["content"]
    return content if isinstance(content, str) else "".join(p.get("text", "") for p in content)


def images(message) -> int:
    return sum(p["type"] == "image_url" for p in message["content"]) if isinstance(message["content"], list) else 0


def test_a_conversation_keeps_replies_answers_each_call_and_brings_the_new_screenshot():
    with ScriptedEndpoint([
        tool_reply(("left_click", {"start_box": [500, 300], "element_info": "Name"}), ("type", {"content": "Ada"}),
                   content="Fill in the name.", reasoning_content="The field is empty."),
        tool_reply(("key", {"keys": "ctrl+s"}), ("left_click", {"start_box": [5, 5]})),
        tool_reply(("DONE", {}), content="Saved."),
    ]) as endpoint:
        planner = planner_for(endpoint)
        first = planner.decide("Type Ada into Name and save", synthetic_frame(1280, 800, 1))
        assert planned(first) == [Click(point=(500, 300), element_info="Name"), TypeText(content="Ada")]
        assert first.explanation == "Fill in the name." and first.reply.reasoning == "The field is empty."
        assert first.reply.raw.startswith("Fill in the name.\n<tool_call>left_click\n<arg_key>start_box</arg_key>")
        first.outcomes += ["ok", "ok"]  # what the loop does as it performs them
        second = planner.decide("Type Ada into Name and save", synthetic_frame(1280, 800, 2))
        second.outcomes += ["ok", "click at (6, 4) is outside the monitor"]
        assert planned(planner.decide("Type Ada into Name and save", synthetic_frame(1280, 800, 3))) == [Done()]
    assert endpoint.errors == [] and endpoint.exhausted
    one, two, three = endpoint.requests
    assert [m["role"] for m in one["messages"]] == ["user"]  # no system message
    assert "# Task:\nType Ada into Name and save" in texts(one["messages"][0]) and images(one["messages"][0]) == 1
    assert one["tools"] == tool_definitions() and one["tool_choice"] == "required"
    assert one["chat_template_kwargs"] == {"enable_thinking": True} and one["thinking"] == {"type": "enabled"}
    assert one["skip_special_tokens"] is False
    assert [m["role"] for m in three["messages"]] == ["user", "assistant", "tool", "tool", "user",
                                                      "assistant", "tool", "tool", "user"]
    kept = three["messages"][1]
    assert kept["content"] == "Fill in the name." and "reasoning_content" not in kept  # hidden reasoning stays out
    assert [c["function"]["name"] for c in kept["tool_calls"]] == ["left_click", "type"]
    answers = [(m["tool_call_id"], m["content"]) for m in three["messages"] if m["role"] == "tool"]
    assert answers == [("call-1", "performed"), ("call-2", "performed"), ("call-1", "performed"),
                       ("call-2", "failed: click at (6, 4) is outside the monitor")]
    assert texts(three["messages"][-1]) == "Current screenshot:" and images(three["messages"][-1]) == 1
    assert two["messages"] == three["messages"][:len(two["messages"])]  # the conversation only grows


def test_calls_after_a_bad_one_are_not_performed_and_the_model_is_told_why():
    with ScriptedEndpoint([
        tool_reply(("left_click", {"start_box": [500, 300]}), ("left_click", {"start_box": [1200, 5]}),
                   ("DONE", {})),
        tool_reply(("DONE", {})),
    ]) as endpoint:
        planner = planner_for(endpoint)
        decision = planner.decide("t", synthetic_frame())
        assert planned(decision) == [Click(point=(500, 300))]
        decision.outcomes.append("ok")
        planner.decide("t", synthetic_frame())
    answers = [m["content"] for m in endpoint.requests[1]["messages"] if m["role"] == "tool"]
    assert answers[0] == "performed"
    assert answers[1].startswith("not performed: tool call 2 (left_click): start_box=[1200, 5] is off the screen")
    assert answers[2].startswith("not performed; call it again")


def test_an_unusable_first_call_is_a_format_error_and_every_call_is_still_answered():
    with ScriptedEndpoint([tool_reply(("left_click", "{oops"), ("DONE", {})), tool_reply(("DONE", {}))]) as endpoint:
        planner = planner_for(endpoint)
        with pytest.raises(FormatError, match=r"tool call 1 \(left_click\): its arguments are not JSON") as caught:
            planner.decide("t", synthetic_frame())
        assert "<tool_call>left_click\n{oops\n</tool_call>" in caught.value.reply.raw  # kept for the episode
        planner.decide("t", synthetic_frame(), feedback=f"Your previous reply could not be used: {caught.value}")
    last = endpoint.requests[1]["messages"]
    answers = [m["content"] for m in last if m["role"] == "tool"]
    assert answers[0].startswith("not performed: tool call 1 (left_click): its arguments are not JSON")
    assert answers[1] == "not performed; call it again if it is still needed"
    assert texts(last[-1]) == "Current screenshot:"  # the tool messages said it already


def test_a_reply_with_thousands_of_calls_is_refused_whole_and_not_kept():
    flood = tool_reply(*[("key", {"keys": "tab"})] * 5000)  # invented: a broken or hostile server
    with ScriptedEndpoint([flood, tool_reply(("DONE", {}))]) as endpoint:
        planner = planner_for(endpoint)
        with pytest.raises(FormatError, match="5000 tool calls; make at most 10") as caught:
            planner.decide("t", synthetic_frame())
        assert len(caught.value.reply.raw) < 1000
        assert planned(planner.decide("t", synthetic_frame(), feedback=str(caught.value))) == [Done()]
    assert len(json.dumps(endpoint.requests[1])) < 2 * len(json.dumps(endpoint.requests[0]))


def test_a_tools_reply_beyond_any_real_size_is_refused_and_kept_bounded():
    huge = tool_reply(("DONE", {}), content="I think. " * 20000)  # invented
    with ScriptedEndpoint([huge]) as endpoint:
        with pytest.raises(FormatError, match="more than 100000") as caught:
            planner_for(endpoint).decide("t", synthetic_frame())
    assert len(caught.value.reply.raw) <= 100_010


def test_arguments_nested_too_deep_are_a_format_error():
    with pytest.raises(FormatError, match="nested too deep"):
        actions_from_tool_calls([call("left_click", "[" * 100_000 + "]" * 100_000)])


def test_raw_glm_tool_call_text_in_the_content_is_read_when_the_server_has_no_tool_parser():
    content = ("<think>Two steps.</think>Click, then type.<tool_call>left_click\n<arg_key>start_box</arg_key>\n"
               "<arg_value>[1, 2]</arg_value>\n</tool_call><tool_call>type\n<arg_key>content</arg_key>\n"
               "<arg_value>[1, 2]</arg_value>\n</tool_call>")
    with ScriptedEndpoint([{"content": content}, "DONE()"]) as endpoint:
        planner = planner_for(endpoint)
        decision = planner.decide("t", synthetic_frame())
        assert planned(decision) == [Click(point=(1, 2)), TypeText(content="[1, 2]")]
        assert decision.explanation == "Click, then type." and decision.reply.reasoning == "Two steps."
        assert decision.reply.raw == content
        decision.outcomes += ["ok", "ok"]
        planner.decide("t", synthetic_frame())
    kept = endpoint.requests[1]["messages"][1]
    assert kept["content"] == "Click, then type." and [c["function"]["name"] for c in kept["tool_calls"]] == [
        "left_click", "type"]
    assert json.loads(kept["tool_calls"][1]["function"]["arguments"]) == {"content": "[1, 2]"}


def test_a_reply_in_the_text_protocol_is_read_too_and_no_call_at_all_is_a_format_error():
    with ScriptedEndpoint(["I click OK. left_click(start_box='[586,446]', element_info='OK')\nMemory:\n[]",
                           "I am not sure what to do.", {"content": "", "finish_reason": "length"},
                           tool_reply(("DONE", {}))]) as endpoint:
        planner = planner_for(endpoint)
        decision = planner.decide("t", synthetic_frame())
        assert decision.action == Click(point=(586, 446), element_info="OK") and decision.explanation == "I click OK."
        with pytest.raises(FormatError, match="no tool call") as caught:
            planner.decide("t", synthetic_frame())
        assert caught.value.reply.raw == "I am not sure what to do."
        with pytest.raises(FormatError, match="cut off at the token limit"):
            planner.decide("t", synthetic_frame(), feedback=f"Your previous reply could not be used: {caught.value}")
        planner.decide("t", synthetic_frame(), feedback="Your previous reply could not be used: it was cut off")
    roles = [m["role"] for m in endpoint.requests[3]["messages"]]
    assert roles == ["user", "assistant", "user", "assistant", "user", "user"]  # no calls, no tool messages;
    # the reply cut off at the token limit is not kept (it is retried while retries last)
    correction = texts(endpoint.requests[2]["messages"][-1])
    assert correction.startswith("Your previous reply could not be used: the reply has no tool call")


@pytest.mark.parametrize("reply", [
    tool_reply(("DONE", {}), reasoning_content="from reasoning_content"),
    tool_reply(("DONE", {}), reasoning="from reasoning"),
    tool_reply(("DONE", {}), content="<think>from reasoning</think>Done."),
])
def test_reasoning_is_read_from_every_place_servers_put_it(reply):
    with ScriptedEndpoint([reply]) as endpoint:
        decision = planner_for(endpoint).decide("t", synthetic_frame())
    assert decision.action == Done() and decision.reply.reasoning.startswith("from reasoning")


def test_a_server_that_refuses_tool_choice_required_gets_auto_from_then_on():
    refusal = {"status": 400, "body": {"object": "error", "type": "BadRequestError", "code": 400,
                                       "message": '"required" tool_choice is not supported by this server'}}
    with ScriptedEndpoint([refusal, tool_reply(("WAIT", {})), tool_reply(("DONE", {}))]) as endpoint:
        planner = planner_for(endpoint)
        first = planner.decide("t", synthetic_frame())
        assert first.action == Wait() and first.reply.request["tool_choice"] == "auto"  # the step records it
        assert planner.decide("t", synthetic_frame()).action == Done()
    assert [r["tool_choice"] for r in endpoint.requests] == ["required", "auto", "auto"]


def test_other_refusals_are_endpoint_errors_and_auto_can_be_chosen_up_front():
    with ScriptedEndpoint([{"status": 400, "body": {"error": {"message": "image too large"}}}]) as endpoint:
        with pytest.raises(EndpointError, match="HTTP 400"):
            planner_for(endpoint).decide("t", synthetic_frame())
    assert len(endpoint.requests) == 1
    with ScriptedEndpoint([tool_reply(("DONE", {}))]) as endpoint:
        ToolsPlanner(GLMConfig(base_url=endpoint.url, max_retries=0, timeout=10)).decide("t", synthetic_frame())
        assert endpoint.requests[0]["tool_choice"] == "required"  # a plain GLMConfig works too
    with ScriptedEndpoint([tool_reply(("DONE", {}))]) as endpoint:
        planner_for(endpoint, tool_choice="auto").decide("t", synthetic_frame())
        assert endpoint.requests[0]["tool_choice"] == "auto"


def test_transient_failures_and_cut_off_replies_are_retried_like_the_text_planner():
    cut_off = tool_reply(("left_click", '{"start_box": [5'), finish_reason="length")
    with ScriptedEndpoint([{"status": 503}, {"fault": "reset"}, cut_off, tool_reply(("DONE", {}))]) as endpoint:
        decision = planner_for(endpoint, max_retries=4, backoff=0.01, backoff_cap=0.05).decide("t", synthetic_frame())
    assert decision.action == Done() and endpoint.exhausted
    errors = [attempt["error"] for attempt in decision.reply.attempts]
    assert len(errors) == 3 and "HTTP 503" in errors[0] and "cannot reach" in errors[1]
    assert "tool call 1 (left_click): its arguments are not JSON" in errors[2] and "token limit" in errors[2]
    assert all(len(r["messages"]) == 1 for r in endpoint.requests)  # nothing of a failed attempt is kept
    with ScriptedEndpoint([{"status": 500}, {"status": 500}]) as endpoint:
        with pytest.raises(EndpointError, match="HTTP 500.*gave up after 2 attempts"):
            planner_for(endpoint, max_retries=1, backoff=0.01).decide("t", synthetic_frame())


def screenshot_like(step: int) -> Frame:
    """A real sandbox screenshot (1366x768, ~53 KB as base64 PNG) with a corner that tells steps apart."""
    base = Frame.from_png(SCREENSHOT.read_bytes())
    pixels = base.pixels.copy()
    pixels[:16, :16, :3] = step % 256
    return Frame(pixels, base.monitor)


def test_the_request_stops_growing_after_the_fourth_screenshot():
    """30 steps: requests 1-4 each add a screenshot; from the 5th on only the last 4 stay, and what a
    step adds is its text: an assistant message with a tool call (~200 B), its tool result, the next
    user text and one "(screenshot omitted)" in place of an image, ~450 B measured. The bound, 1 KB
    per step, is twice that and a few percent of one screenshot, so a single image kept by mistake fails it."""
    replies = [tool_reply(("left_click", {"start_box": [100 + n, 200], "element_info": "Name field"}),
                          content=f"Step {n}: click the field.") for n in range(29)] + [tool_reply(("DONE", {}))]
    with ScriptedEndpoint(replies) as endpoint:
        planner = planner_for(endpoint)
        for step in range(1, 31):
            decision = planner.decide("Fill in the form", screenshot_like(step))
            decision.outcomes.append("ok")
            assert decision.reply.request["images"] == min(step, 4)
    assert endpoint.exhausted and endpoint.errors == []
    sizes = [len(json.dumps(request["messages"])) for request in endpoint.requests]
    growth = [after - before for before, after in zip(sizes, sizes[1:])]
    screenshot = len(json.dumps(endpoint.requests[0]["messages"][0]["content"][1]))
    assert screenshot > 20_000
    assert all(g > screenshot for g in growth[:3])  # steps 2-4 each add a screenshot
    assert all(0 < g < 1_000 for g in growth[3:]), growth  # steps 5-30 add text only
    assert sizes[-1] - sizes[4] < 1_000 * 25
    last = endpoint.requests[-1]["messages"]
    assert sum(images(m) for m in last) == 4 and json.dumps(last).count(OMITTED) == 26
    assert images(last[-1]) == 1  # the newest is the current screenshot


def test_a_recorded_tools_reply_reads_back_to_the_same_actions_for_replays():
    with ScriptedEndpoint([tool_reply(("left_click", '{"start_box": "[10, 20]", "element_info": "A"}'),
                                      ("type", {"content": "  two\nlines "}), ("key", {"keys": "hyper"}),
                                      content="<think>hmm</think>Go."),
                           tool_reply(("left_click", {"start_box": [10, 20]}), ("DONE", {}))]) as endpoint:
        planner = planner_for(endpoint)
        recorded = [planner.decide("t", synthetic_frame()), planner.decide("t", synthetic_frame())]
    for decision in recorded:
        again = interpret_tools(Reply(decision.reply.raw, decision.reply.reasoning))
        assert planned(again) == planned(decision)
    assert planned(recorded[0])[1] == TypeText(content="  two\nlines ")
    assert interpret_tools(Reply("left_click(start_box='[1,2]')")).action == Click(point=(1, 2))  # text protocol
    assert parse_reply("left_click(start_box='[1,2]')").action == Click(point=(1, 2))


def test_the_loop_drives_a_tools_planner_one_call_per_reply(tmp_path):
    computer = RecordingComputer(Monitor(0, 0, 1366, 768))
    replies = [tool_reply(("left_click", {"start_box": [500, 500], "element_info": "OK"})),
               tool_reply(("type", {"content": "héllo"})), tool_reply(("DONE", {}), content="Done.")]
    with ScriptedEndpoint(replies) as endpoint:
        planner = planner_for(endpoint)
        agent = Agent("Press OK", planner, computer, FakeScreen(1366, 768), EpisodeWriter(tmp_path / "run"),
                      settings=planner.config.model_dump())
        assert agent.run() == ("done", "")
    assert computer.calls == [("click", (683, 384), "left", 1), ("type_text", "héllo")]
    episode = read_episode(tmp_path / "run")
    assert episode.header["planner"] == "tools" and episode.header["settings"]["tool_choice"] == "required"
    assert [s["call"] for s in episode.steps] == ["left_click(start_box='[500,500]', element_info='OK')",
                                                  "type(content='héllo')", "DONE()"]
    assert "<tool_call>left_click" in episode.steps[0]["raw"]
    assert [m["content"] for m in endpoint.requests[2]["messages"] if m["role"] == "tool"] == ["performed", "performed"]


def test_a_resumed_tools_run_asks_with_the_conversation_it_would_have_had(tmp_path):
    """Steps: two calls (a click and typing), a reply with an unknown tool (a format error), WAIT, then
    DONE. Stopped after three steps and resumed, the fourth request equals the uninterrupted run's,
    tool-call ids aside (recorded replies keep GLM's call text, which has none)."""
    replies = [tool_reply(("left_click", {"start_box": [500, 500]}), ("type", {"content": "hi"}), content="Fill."),
               tool_reply(("teleport", {})), tool_reply(("WAIT", {})), tool_reply(("DONE", {}))]

    def agent(endpoint, out, planner=None, steps=10, resume_from=None, frames=0):
        screen = FakeScreen(1366, 768)
        screen.frames = frames  # the resumed run's screen goes on where the first one stopped
        planner = planner or planner_for(endpoint)
        return Agent("Fill in", planner, RecordingComputer(Monitor(0, 0, 1366, 768)), screen,
                     EpisodeWriter(out, resume=resume_from is not None), limits=Limits(steps=steps),
                     resume_from=resume_from)

    with ScriptedEndpoint(replies) as endpoint:
        assert agent(endpoint, tmp_path / "whole").run() == ("done", "")
    uninterrupted = endpoint.requests[3]
    with ScriptedEndpoint(replies[:3]) as endpoint:
        assert agent(endpoint, tmp_path / "run", steps=3).run()[0] == "step_limit"
    with ScriptedEndpoint(replies[3:]) as endpoint:
        planner = planner_for(endpoint)
        planner.restore(read_episode(tmp_path / "run"))
        resumed = agent(endpoint, tmp_path / "run", planner, steps=10, resume_from={"steps": 3, "tokens": 0}, frames=3)
        assert resumed.run() == ("done", "")

    def without_ids(request):
        messages = json.loads(json.dumps(request["messages"]))
        for message in messages:
            for tool_call in message.get("tool_calls", []):
                tool_call["id"] = "id"
            if message["role"] == "tool":
                message["tool_call_id"] = "id"
        return messages

    assert without_ids(endpoint.requests[0]) == without_ids(uninterrupted)
    calls, answered = [], []
    for message in endpoint.requests[0]["messages"]:  # each tool message answers a call of the reply before
        calls += [c["id"] for c in message.get("tool_calls", [])]
        answered += [message["tool_call_id"]] if message["role"] == "tool" else []
    assert answered == calls
    roles = [m["role"] for m in uninterrupted["messages"]]
    assert roles == ["user", "assistant", "tool", "tool", "user", "assistant", "tool", "user", "assistant", "tool",
                     "user"]
    assert sum(images(m) for m in endpoint.requests[0]["messages"]) == 4
    assert [s["index"] for s in read_episode(tmp_path / "run").steps] == [1, 2, 3, 4]


# -- end to end --------------------------------------------------------------------------------

def at(script: Script, name: str) -> list[int]:
    x, y = centre(script.rect(name))
    return [round(x / WIDTH * 1000), round(y / HEIGHT * 1000)]


def test_form_filled_with_several_tool_calls_per_reply_and_replayed(x_session, tmp_path):
    geometry = "700x560+40+30"
    app = x_session.launch("form", geometry=geometry)
    app.wait_ready()
    script = Script(app)
    replies = [
        lambda request: tool_reply(("left_click", {"start_box": at(script, "name_entry"), "element_info": "Name"}),
                                   ("type", {"content": "Ada Lovelace"}), content="Fill in the name."),
        lambda request: tool_reply(("left_click", {"start_box": json.dumps(at(script, "email_entry"))}),
                                   ("type", '{"content": "ada@example.com"}')),
        lambda request: tool_reply(("left_click", {"start_box": at(script, "subscribe")}),
                                   ("key", {"keys": "ctrl+Return"}), content="Tick Subscribe and submit."),
        tool_reply(("DONE", {}), content="Submitted."),
    ]
    with ScriptedEndpoint(replies) as endpoint:
        result = gui_agent("run", "Register Ada", "--protocol", "tools", "--base-url", endpoint.url,
                           "--display", x_session.display, "--out", str(tmp_path / "run"), env=x_session.env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert endpoint.errors == [] and endpoint.exhausted
    submitted = [e["values"] for e in app.record()["events"] if e["event"] == "submit"]
    assert submitted and submitted[-1]["name"] == "Ada Lovelace" and submitted[-1]["email"] == "ada@example.com"
    assert submitted[-1]["subscribe"] is True
    episode = read_episode(tmp_path / "run")
    assert episode.header["planner"] == "tools" and len(episode.steps) == 4
    assert [s["call"].split("(")[0] for s in episode.steps] == ["left_click", "left_click", "left_click", "DONE"]
    assert [[t["call"] for t in s.get("then", [])] for s in episode.steps] == [
        ["type(content='Ada Lovelace')"], ["type(content='ada@example.com')"], ["key(keys='ctrl+enter')"], []]
    assert all(t["outcome"] == "ok" for s in episode.steps for t in s.get("then", []))
    answers = [m["content"] for m in endpoint.requests[3]["messages"] if m["role"] == "tool"]
    assert answers == ["performed"] * 6

    app.process.terminate()
    app.process.wait(timeout=5)
    replayed_app = x_session.launch("form", geometry=geometry)
    replayed_app.wait_ready()
    result = gui_agent("replay", str(tmp_path / "run"), "--display", x_session.display, "--out",
                       str(tmp_path / "replay"), env=x_session.env)
    assert result.returncode == 0, result.stdout + result.stderr
    replayed = read_episode(tmp_path / "replay")
    assert [(s["call"], s.get("then")) for s in replayed.steps] == [(s["call"], s.get("then")) for s in episode.steps]
    replayed_submits = [e["values"] for e in replayed_app.record()["events"] if e["event"] == "submit"]
    assert replayed_submits[-1] == submitted[-1]


def test_gui_agent_resume_continues_a_tools_run_in_the_tools_dialect(x_session, tmp_path):
    app = x_session.launch("form", geometry="700x560+40+30")
    app.wait_ready()
    script = Script(app)
    def name(request):
        return tool_reply(("left_click", {"start_box": at(script, "name_entry")}), ("type", {"content": "Ada"}))
    secret = ("--secret", "CODE=hunter2-code")  # invented; given, never used, so the model is told of it
    told = "(secrets given: {{CODE}})."
    with ScriptedEndpoint([name, tool_reply(("key", {"keys": "tab"}))]) as endpoint:
        result = gui_agent("run", "Register Ada", "--protocol", "tools", "--max-steps", "2", "--base-url", endpoint.url,
                           "--display", x_session.display, "--out", str(tmp_path / "run"), *secret, env=x_session.env)
    assert result.returncode == 11, result.stdout + result.stderr  # step_limit
    assert all(told in json.dumps(request["tools"]) and "hunter2" not in json.dumps(request)
               for request in endpoint.requests)
    result = gui_agent("resume", str(tmp_path / "run"), "--base-url", "http://127.0.0.1:9/v1", "--display",
                       x_session.display, env=x_session.env)
    assert (result.returncode, result.stdout.strip()) == (1, "error: the run was given the secret CODE; pass --secret "
                                                          "CODE=VALUE or set GUI_AGENT_SECRET_CODE to resume it")
    with ScriptedEndpoint([tool_reply(("key", {"keys": "ctrl+Return"})), tool_reply(("DONE", {}))]) as endpoint:
        result = gui_agent("resume", str(tmp_path / "run"), "--base-url", endpoint.url, "--display", x_session.display,
                           *secret, env=x_session.env)
    assert result.returncode == 0, result.stdout + result.stderr
    first = endpoint.requests[0]
    assert told in json.dumps(first["tools"])
    assert "tools" in first and [m["content"] for m in first["messages"] if m["role"] == "tool"] == ["performed"] * 3
    assert [e["values"]["name"] for e in app.record()["events"] if e["event"] == "submit"] == ["Ada"]
    episode = read_episode(tmp_path / "run")
    assert [s["index"] for s in episode.steps] == [1, 2, 3, 4] and episode.end["status"] == "done"


def raw_tool_text(*calls) -> str:
    """GLM's own tool-call text, as a server without a tool parser returns it in `content`."""
    blocks = []
    for name, arguments in calls:
        pairs = "".join(f"<arg_key>{key}</arg_key>\n<arg_value>{value if isinstance(value, str) else json.dumps(value)}"
                        f"</arg_value>\n" for key, value in arguments.items())
        blocks.append(f"<tool_call>{name}\n{pairs}</tool_call>")
    return "\n".join(blocks)


def test_form_filled_from_raw_glm_tool_call_text(x_session, tmp_path):
    app = x_session.launch("form", geometry="700x560+40+30")
    app.wait_ready()
    script = Script(app)
    replies = [
        lambda request: "Fill in the name.\n" + raw_tool_text(("left_click", {"start_box": at(script, "name_entry")}),
                                                               ("type", {"content": "Grace Hopper"})),
        lambda request: raw_tool_text(("left_click", {"start_box": at(script, "subscribe")}),
                                      ("key", {"keys": "ctrl+Return"})),
        raw_tool_text(("DONE", {})),
    ]
    with ScriptedEndpoint(replies) as endpoint:
        result = gui_agent("run", "Register Grace", "--protocol", "tools", "--base-url", endpoint.url,
                           "--display", x_session.display, "--out", str(tmp_path / "run"), env=x_session.env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert endpoint.errors == [] and endpoint.exhausted
    submitted = [e["values"] for e in app.record()["events"] if e["event"] == "submit"]
    assert submitted and submitted[-1]["name"] == "Grace Hopper" and submitted[-1]["subscribe"] is True
    steps = read_episode(tmp_path / "run").steps
    assert [len(s.get("then", [])) for s in steps] == [1, 1, 0]


def test_tool_calls_drafted_in_reasoning_that_never_ended_are_not_done():
    """vLLM leaves an unclosed <think> in the content, and its tool parser may still find calls in it."""
    cut = tool_reply(("left_click", {"start_box": [500, 500]}), content="<think>Maybe click OK, or",
                     finish_reason="length")
    with ScriptedEndpoint([cut, cut]) as endpoint:
        with pytest.raises(FormatError, match="ended inside <think>"):
            planner_for(endpoint).decide("t", synthetic_frame())
        planner = planner_for(endpoint)
        with pytest.raises(FormatError) as caught:
            planner.decide("t", synthetic_frame())
    assert "<tool_call>left_click" in caught.value.reply.raw  # recorded as received
    with pytest.raises(FormatError, match="ended inside <think>"):
        interpret_tools(caught.value.reply)  # and a replay refuses it too


def test_glm_tags_leaked_into_a_tool_call_are_read_back_into_arguments():
    leaked = {"function": {"name": "scroll\n<arg_key>start_box</arg_key>\n<arg_value>[114, 167]",
                           "arguments": '{"element_info": "list<arg_key>step</arg_key><arg_value>3</arg_value>", '
                                        '"direction": "down"}'}}
    scrolled = Scroll(point=(114, 167), direction="down", steps=3, element_info="list")
    assert actions_from_tool_calls([leaked]) == [scrolled]
    hold = {"function": {"name": "left_click", "arguments": '{"start_box": [1, 2], "hold_keys": "ctrl"}'}}
    with pytest.raises(FormatError, match="takes no hold_keys"):  # a plain click is not what was meant
        actions_from_tool_calls([hold])
