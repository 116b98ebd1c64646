"""The reply parser over a corpus of GLM-4.5V replies: every variant the protocol names, and malformed ones."""

import pytest

from agent.core.actions import Click, Done, DoubleClick, Drag, Fail, Hover, Key, Scroll, TypeText, Wait
from agent.core.errors import FormatError
from agent.planners.reply import parse_reply

B, E = "<|begin_of_box|>", "<|end_of_box|>"

GOOD = [
    # (content, reasoning field, expected action, expected explanation, expected memory)
    (f"<think>The dialog has an OK button.</think>I click OK. {B}left_click(start_box='[586,446]', "
     f"element_info='OK button'){E}\nMemory:\n[]", None,
     Click(point=(586, 446), element_info="OK button"), "I click OK.", "[]"),
    ("I click OK. left_click(start_box='[586,446]', element_info='OK button')\nMemory:\n[]", "hidden",
     Click(point=(586, 446), element_info="OK button"), "I click OK.", "[]"),
    (f"{B}right_click(start_box='(10, 20)', element_info='file'){E}", None,
     Click(point=(10, 20), button="right", element_info="file"), "", None),
    (f"{B}middle_click(start_box='[[100,200,300,400]]'){E}", None, Click(point=(200, 300), button="middle"), "", None),
    ("hover(start_box='[ 5 , 6 ]', element_info='menu')", None, Hover(point=(5, 6), element_info="menu"), "", None),
    ("left_double_click(start_box='[100,100,110,120]', element_info='icon')", None,
     DoubleClick(point=(105, 110), element_info="icon"), "", None),
    ("Drag the slider. left_drag(start_box='[10,10]', end_box='[900,10]', element_info='slider')", None,
     Drag(start=(10, 10), end=(900, 10), element_info="slider"), "Drag the slider.", None),
    ("key(keys='ctrl+s')", None, Key(keys="ctrl+s"), "", None),
    (f"{B}key(keys=\"Alt+Tab\"){E}", None, Key(keys="alt+tab"), "", None),
    ("type(content='Hello, world!')", None, TypeText(content="Hello, world!"), "", None),
    ("type(content='It\\'s café\\nnext')", None, TypeText(content="It's café\nnext"), "", None),
    ("type(content=\"say \\\"hi\\\" (now)\")", None, TypeText(content='say "hi" (now)'), "", None),
    ("scroll(start_box='[500,600]', direction='down', step=3, element_info='list')", None,
     Scroll(point=(500, 600), direction="down", steps=3, element_info="list"), "", None),
    ("scroll(start_box='[500,600]', direction='UP')", None,
     Scroll(point=(500, 600), direction="up", steps=5), "", None),
    ("WAIT()", None, Wait(), "", None),
    ("The form is submitted. DONE()\nMemory:\n[{\"submitted\": \"yes\"}]", None, Done(), "The form is submitted.",
     "[{\"submitted\": \"yes\"}]"),
    ("done()", None, Done(), "", None),
    ("FAIL()", None, Fail(), "", None),
    ("thinking without opening tag</think>Now click. left_click(start_box='[1,2]')", None,
     Click(point=(1, 2)), "Now click.", None),
    (f"Mentions hover(start_box='[1,1]') first, then acts. {B}left_click(start_box='[7,8]'){E}", None,
     Click(point=(7, 8)), "Mentions hover(start_box='[1,1]') first, then acts.", None),
    ("left_click('[100,200]', 'Save')", None, Click(point=(100, 200), element_info="Save"), "", None),
    ("left_click(start_box=[100, 200])", None, Click(point=(100, 200)), "", None),
    ("left_click(start_box='[99.6,200.2]')", None, Click(point=(100, 200)), "", None),
    (f"left_click(start_box='{B}[[10,20,30,40]]{E}')", None, Click(point=(20, 30)), "", None),
]


@pytest.mark.parametrize("content, reasoning, action, explanation, memory", GOOD)
def test_good_replies(content, reasoning, action, explanation, memory):
    parsed = parse_reply(content, reasoning)
    assert parsed.action == action
    assert parsed.explanation == explanation
    assert parsed.memory == memory


def test_reasoning_comes_from_the_field_or_inline_think():
    assert parse_reply("<think>inline</think>DONE()").reasoning == "inline"
    assert parse_reply("DONE()", "from the field").reasoning == "from the field"


BAD = [
    ("", "no action call"),
    ("I think we are finished.", "no action call"),
    ("click(start_box='[1,2]')", "no action call"),
    ("left_click(start_box='[1000,500]')", "off the screen"),
    ("left_click(start_box='[-5,500]')", "off the screen"),
    ("left_click(start_box='[5]')", "not a point"),
    ("left_click(start_box='[1,2,3]')", "not a point"),
    ("left_click(start_box='OK button')", "not a point"),
    ("left_click(element_info='OK')", "start_box is missing"),
    ("left_click(start_box='[1,2]'", "not closed"),
    ("type(content='unterminated)", "not closed"),
    ("type(content='')", "at least 1 character"),
    ("key(keys='hyper+q')", "unknown key"),
    ("key(keys='')", "no key given"),
    ("scroll(start_box='[1,2]', direction='sideways')", "direction"),
    ("scroll(start_box='[1,2]', direction='down', step='lots')", "not a number"),
    ("left_drag(start_box='[1,2]')", "end_box is missing"),
    ("left_click(start_box='[1,2]', 'a', 'b', 'c')", "unexpected argument"),
    ("left_click(start_box='__import__(\"os\").system(\"x\")')", "not a point"),
]


@pytest.mark.parametrize("content, message", BAD)
def test_malformed_replies_are_format_errors_naming_the_problem(content, message):
    with pytest.raises(FormatError, match=message):
        parse_reply(content)


def test_several_calls_in_a_box_are_all_read_in_order_with_the_text_the_model_wrote():
    parsed = parse_reply(f"Fill it. {B}left_click(start_box='[1, 2]')\ntype(content='Ada'){E}\nMemory:\n[]")
    assert parsed.actions == (Click(point=(1, 2)), TypeText(content="Ada"))
    assert parsed.call_text == "left_click(start_box='[1, 2]')\ntype(content='Ada')"
    assert parsed.explanation == "Fill it."


def test_bare_calls_are_the_run_at_the_end_of_the_explanation():
    parsed = parse_reply("Earlier key(keys='tab') did nothing, so:\ntype(content='Ada')\nkey(keys='enter')")
    assert parsed.actions == (TypeText(content="Ada"), Key(keys="enter"))
    assert parsed.explanation == "Earlier key(keys='tab') did nothing, so:"


@pytest.mark.parametrize("content, message", [
    ("<think>I will left_click(start_box='[1,2]')", "ended inside <think>"),
    (f"<think>a</think>{B}left_click(start_box='[1,2]') please{E}", "box holds text that is not an action call"),
    (f"Like before: left_click(start_box='[1,2]'). {B}the OK button{E}", "box holds no action call"),
    (f"{B}left_click(start_box='[1,2]'){E} {B}key(keys='hyper+q'){E}", "unknown key"),
    ("I type it. type(content='It's unfinished", "not closed"),
])
def test_what_cannot_be_meant_is_refused(content, message):
    with pytest.raises(FormatError, match=message):
        parse_reply(content)


@pytest.mark.parametrize("tail, memory", [
    ("[]", "[]"),
    ("", "[]"),
    ("[{\"a\": \"b\"}]</answer>\nDONE()", "[{\"a\": \"b\"}]"),
    ("[] <|user|> next question", "[]"),
    ("{'a': 'b'}<|endoftext|>", "{'a': 'b'}"),
])
def test_memory_is_the_json_after_memory_without_what_follows_it(tail, memory):
    assert parse_reply(f"DONE()\nMemory:\n{tail}").memory == memory
