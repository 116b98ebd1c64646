import pytest
from pydantic import ValidationError

from agent.core.actions import ACTION, Click, Drag, Key, Scroll, TypeText
from agent.core.executors import RecordingComputer
from agent.core.geometry import Geometry, Monitor


def test_points_outside_model_space_are_refused():
    for point in [(1000, 5), (5, 1000), (-1, 0)]:
        with pytest.raises(ValidationError):
            Click(point=point)


@pytest.mark.parametrize("keys, expected", [
    ("ctrl+c", ["ctrl", "c"]), ("Control+Shift+S", ["ctrl", "shift", "s"]), ("Return", ["enter"]),
    ("alt+F4", ["alt", "f4"]), ("cmd+space", ["win", "space"]), ("ctrl++", ["ctrl", "+"]),
    ("PgDn", ["pagedown"]), ("esc", ["escape"]), (["ctrl", "A"], ["ctrl", "a"]),
])
def test_key_names_are_normalised(keys, expected):
    assert Key(keys=keys).keys == expected


@pytest.mark.parametrize("keys", ["hyper+x", "ctrl+foo", "", "+ctrl", "enterr"])
def test_unknown_keys_are_validation_errors(keys):
    with pytest.raises(ValidationError):
        Key(keys=keys)


def test_text_to_type_must_not_be_empty():
    with pytest.raises(ValidationError):
        TypeText(content="")


def test_scroll_direction_and_steps_are_checked():
    with pytest.raises(ValidationError):
        Scroll(point=(1, 1), direction="sideways")
    with pytest.raises(ValidationError):
        Scroll(point=(1, 1), direction="down", steps=0)


def test_actions_round_trip_through_json_by_their_type():
    actions = [Click(point=(1, 2), button="right", element_info="OK"), Drag(start=(1, 2), end=(3, 4)),
               Key(keys="ctrl+s"), TypeText(content="café"), Scroll(point=(5, 6), direction="up", steps=2)]
    for action in actions:
        assert ACTION.validate_python(action.model_dump()) == action


def test_actions_perform_in_screen_pixels_on_the_computer():
    monitor = Monitor(100, 0, 1000, 500)
    computer = RecordingComputer(monitor)
    to_screen = Geometry(monitor, 1000, 500).model_to_screen
    Click(point=(500, 500), button="right").perform(computer, to_screen)
    Drag(start=(0, 0), end=(999, 999)).perform(computer, to_screen)
    Key(keys="ctrl+s").perform(computer, to_screen)
    assert computer.calls == [("click", (600, 250), "right", 1), ("drag", (100, 0), (1099, 499)),
                              ("keypress", ["ctrl", "s"])]


def test_the_computer_refuses_points_off_its_monitor():
    from agent.core.errors import ActionError
    computer = RecordingComputer(Monitor(0, 0, 800, 600))
    with pytest.raises(ActionError, match="outside"):
        computer.click((800, 10), "left", 1)
    assert computer.calls == []
