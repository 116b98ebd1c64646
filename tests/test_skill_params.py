"""Parameters of demonstration skills: values become placeholders once, never twice."""

from agent.skills import with_placeholders


def test_a_value_that_looks_like_a_placeholder_name_is_replaced_once():
    step = {"action": {"type": "type", "content": "Ada Lovelace, Ada, full"}, "target": {"field": {"text": "Ada"}}}
    filled = with_placeholders(step, [("full", "Ada Lovelace"), ("first", "Ada"), ("word", "full")])
    assert filled["action"]["content"] == "{full}, {first}, {word}"
    assert filled["call"] == "type(content='{full}, {first}, {word}')"
    assert filled["target"]["field"]["text"] == "{first}"
