"""Property tests of the reply parser: whatever the text, only a parsed action or a FormatError
comes out, and never a point off the screen."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.core.errors import FormatError
from agent.planners.reply import parse_reply

POINTED = ["left_click", "right_click", "middle_click", "hover", "left_double_click", "left_drag", "scroll"]
NAMES = [*POINTED, "key", "type", "wait", "done", "fail", "WAIT", "DONE", "FAIL", "click", "Left_Click"]
PIECES = ["(", ")", "'", '"', "[", "]", ",", "=", "\\", "<|begin_of_box|>", "<|end_of_box|>", "<think>", "</think>",
          "Memory:", "\n", "start_box", "end_box", "element_info", "keys", "content", "direction", "step", " "]
numbers = st.integers(min_value=-5000, max_value=5000).map(str) | st.floats(allow_nan=True).map(str)
near_miss = st.lists(st.sampled_from(NAMES) | st.sampled_from(PIECES) | numbers | st.text(max_size=6), max_size=30)


def check(content: str, reasoning: str | None = None) -> None:
    try:
        parsed = parse_reply(content, reasoning)
    except FormatError:
        return
    for x, y in parsed.action.points().values():
        assert 0 <= x <= 999 and 0 <= y <= 999


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text())
def test_arbitrary_text(content):
    check(content)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(near_miss, st.none() | st.text(max_size=20))
def test_near_miss_replies(pieces, reasoning):
    check("".join(pieces), reasoning)


@settings(max_examples=600, deadline=None)
@given(st.sampled_from(POINTED),
       st.lists(numbers, min_size=0, max_size=5), st.sampled_from(["[{}]", "({})", "[[{}]]", "{}", "'[{}]'"]))
def test_calls_with_arbitrary_coordinates(name, values, shape):
    box = shape.format(",".join(values))
    check(f"{name}(start_box='{box}', end_box='{box}', direction='down')")


calls = st.sampled_from(["left_click(start_box='[1,2]')", "key(keys='enter')", "DONE()", "FAIL", "type(content='x')"])
snippets = st.lists(calls | st.sampled_from(PIECES) | st.text(max_size=6), max_size=12).map("".join)


@settings(max_examples=400, deadline=None)
@given(snippets.filter(bool))
def test_a_call_inside_a_quoted_argument_is_never_done(inner):
    quoted = inner.replace("\\", "\\\\").replace("'", "\\'")
    try:
        parsed = parse_reply(f"I type it. <|begin_of_box|>type(content='{quoted}')<|end_of_box|>\nMemory:\n[]")
    except FormatError:
        return
    assert [action.type for action in parsed.actions] == ["type"]
    assert parsed.action.content == inner or "think>" in inner  # think tags are taken out before calls are read


@settings(max_examples=400, deadline=None)
@given(snippets, snippets)
def test_nothing_in_reasoning_that_never_ended_is_done(before, draft):
    content = f"{before}<think>{draft}"
    if "</think>" in content or "<think>" in before:
        return
    try:
        parse_reply(content)
    except FormatError:
        return
    raise AssertionError(f"{content!r} was read as an answer")
