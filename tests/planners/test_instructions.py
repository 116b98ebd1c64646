import pytest

from agent.core.errors import InstructionError
from agent.planners.instructions import (
    ClickOn,
    Press,
    ScrollIn,
    SelectFrom,
    SetTick,
    TypeInto,
    WaitFor,
    parse_instruction,
    split_clauses,
)


@pytest.mark.parametrize("text, clause", [
    ("click Submit", ClickOn("Submit")),
    ('click "Save As..."', ClickOn("Save As...")),
    ("Double-click brown", ClickOn("brown", count=2)),
    ("double click 'the file'", ClickOn("the file", count=2)),
    ("RIGHT-CLICK Name", ClickOn("Name", button="right")),
    ("tick Subscribe", SetTick("Subscribe", True)),
    ('untick "Subscribe"', SetTick("Subscribe", False)),
    ('type "Ada Lovelace" into Name', TypeInto("Ada Lovelace", "Name")),
    ('type "a, b; then c" into "File name"', TypeInto("a, b; then c", "File name")),
    ('type "café ☕"', TypeInto("café ☕")),
    ('type " jumps over"', TypeInto(" jumps over")),
    ("type ' a, b ' into Name", TypeInto(" a, b ", "Name")),
    ('click " Submit "', ClickOn("Submit")),
    ("type hello", TypeInto("hello")),
    ("press ctrl+s", Press("ctrl+s")),
    ("Press Enter", Press("Enter")),
    ("scroll down", ScrollIn("down")),
    ("scroll up in Country", ScrollIn("up", "Country")),
    ('wait for "Saved"', WaitFor("Saved")),
    ("select Uruguay from Country", SelectFrom("Uruguay", "Country")),
    ('select "New Zealand" from "Country"', SelectFrom("New Zealand", "Country")),
])
def test_every_form_parses(text, clause):
    assert parse_instruction(text) == [clause]


def test_clauses_join_with_then_commas_semicolons_and_new_lines_but_not_inside_quotes():
    text = 'type "Ada, then Grace" into Name, then tick "Subscribe"; click Submit\npress enter then click OK'
    assert split_clauses(text) == ['type "Ada, then Grace" into Name', 'tick "Subscribe"', "click Submit",
                                   "press enter", "click OK"]
    assert len(parse_instruction(text)) == 5


@pytest.mark.parametrize("text, message", [
    ("jump around", "cannot understand 'jump around'"),
    ("click Submit, then dance", "cannot understand 'dance'"),
    ("press hyper+q", "unknown key 'hyper'"),
    ("scroll sideways", "cannot understand"),
    ("select Uruguay", "cannot understand"),
    ("", "empty"),
])
def test_anything_else_is_refused_with_the_forms_listed(text, message):
    with pytest.raises(InstructionError, match=message) as caught:
        parse_instruction(text)
    assert "the embedded planner knows" in str(caught.value) or "unknown key" in str(caught.value)
