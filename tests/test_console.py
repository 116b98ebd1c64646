"""What the terminal shows: text from replies, episodes and errors never reaches it raw."""

from agent.core.console import RunView, console, show_error

HOSTILE = "\x1b]0;owned\x07\x1b[2J\x1b[31m[bold]red[/bold]\x9b1m"  # invented: retitle, clear, colour, markup


def test_control_characters_from_a_reply_are_shown_not_sent_to_the_terminal():
    record = {"index": 1, "call": f"type(content='{HOSTILE}')", "screen": {}, "explanation": HOSTILE,
              "error": HOSTILE, "timings": {}, "then": [{"call": HOSTILE, "screen": {}, "error": HOSTILE}]}
    with console.capture() as captured:
        RunView(5).step(record)
        RunView(5).step({"index": 2, "outcome": HOSTILE, "error": HOSTILE, "timings": {}})
        RunView(5).summary(HOSTILE, HOSTILE, 2, "out")
        show_error(HOSTILE)
    shown = captured.get()
    assert not any(ord(char) < 32 and char != "\n" or 0x7f <= ord(char) <= 0x9f for char in shown)
    assert shown.count("\\x1b]0;owned\\x07\\x1b[2J\\x1b[31m[bold]red[/bold]\\x9b1m") >= 8


def test_the_embedded_planners_time_is_called_planning():
    for planned_here, said in ((True, "planning"), (False, "in the model")):
        view = RunView(5, planned_here=planned_here)
        view.step({"index": 1, "call": "DONE()", "screen": {}, "timings": {"model": 0.25, "capture": 0.01}})
        with console.capture() as captured:
            view.summary("done", "", 1, "out")
        assert f"250ms {said}, 10ms on the machine" in " ".join(captured.get().split())
