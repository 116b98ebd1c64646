"""Typing reaches real apps exactly as written (issue 23): every printable ASCII character, accents, CJK,
an emoji, a tab and a newline, typed by keysym through XTest, compared byte for byte with what each app
got; repeated keys are not lost (galculator) and wait only there; the keymap, modifiers and selections
are left as found."""

import subprocess
import time
import urllib.parse

import pytest

from agent.core.actions import TypeText
from agent.core.executors import PyAutoGUIComputer
from agent.core.geometry import Monitor
from tests.support import real_apps
from tests.support.fakes import OneActionPlanner
from tests.support.scenarios import HEIGHT, WIDTH

ASCII = "".join(map(chr, range(0x20, 0x7F)))
TEXT = ASCII + "é ñ ß 東京 😀\tend\n"
PAGE = """<!doctype html><meta charset="utf-8"><title>typing</title>
<textarea id="t" autofocus rows="10" cols="80"></textarea>
<script>
const t = document.getElementById("t");
t.focus();
const show = () => { document.title = "typed:" + encodeURIComponent(t.value); };
t.addEventListener("input", show);
t.addEventListener("keydown", (e) => {  // a textarea's Tab moves the focus: this page takes it, as code editors do
  if (e.key === "Tab") { e.preventDefault(); t.setRangeText("\t", t.selectionStart, t.selectionEnd, "end"); show(); }
});
</script>"""


@pytest.fixture
def session(x_session, monkeypatch):
    """x_session, with this process's X connections (the executor's, the tests') let in."""
    monkeypatch.setenv("XAUTHORITY", x_session.env["XAUTHORITY"])
    monkeypatch.setenv("DISPLAY", x_session.display)
    return x_session


def computer(session) -> PyAutoGUIComputer:
    return PyAutoGUIComputer(session.display, Monitor(0, 0, WIDTH, HEIGHT))


def settled(read, want, timeout: float = 15.0):
    """What `read()` returns once it equals `want`, or at the timeout (the assert then shows both)."""
    deadline = time.monotonic() + timeout
    while (got := read()) != want and time.monotonic() < deadline:
        time.sleep(0.1)
    return got


def file_bytes(path):
    return lambda: path.read_bytes() if path.exists() else b""


def keymap(session) -> list[tuple]:
    from Xlib import display

    connection = display.Display(session.display)
    try:
        first = connection.display.info.min_keycode
        return [tuple(row) for row in connection.get_keyboard_mapping(first, connection.display.info.max_keycode
                                                                      - first + 1)]
    finally:
        connection.close()


def test_xterm_gets_every_character_through_cat(session):
    out = session.files / "typed.txt"
    real_apps.xterm(session, f"cat > {out}", "typing-xterm")
    keymap_before = keymap(session)
    typist = computer(session)
    typist.type_text(TEXT)
    assert settled(file_bytes(out), TEXT.encode()) == TEXT.encode()
    typist.restore_keymap()
    assert keymap(session) == keymap_before  # the spare keycodes bound for é, 東, ... are free again


def test_more_keysyms_than_spare_keycodes_rebind_them_without_a_wrong_character(session):
    out = session.files / "many.txt"
    real_apps.xterm(session, f"cat > {out}", "typing-xterm")
    spare = sum(not any(row) for row in keymap(session))
    text = "".join(chr(0x4E00 + 7 * n) for n in range(spare + 10)) + "\n"  # distinct CJK characters
    computer(session).type_text(text)
    assert settled(file_bytes(out), text.encode()) == text.encode()


def test_a_gtk_entry_gets_every_character_but_the_tab(session):
    # a GTK entry takes no tab (it moves the focus) and no newline (it submits: the typed newline does)
    out = session.files / "entry.txt"
    real_apps.start(session, ["sh", "-c", f"zenity --entry --title=typing-entry > {out}"], "typing-entry")
    text = TEXT.replace("\t", "")
    computer(session).type_text(text)
    assert settled(file_bytes(out), text.encode()) == text.encode()


def test_a_gtk_text_view_gets_every_character(session):
    out = session.files / "typed.txt"
    out.write_bytes(b"")
    real_apps.start(session, ["mousepad", str(out)], "typed.txt")
    typist = computer(session)
    typist.type_text(TEXT)
    typist.keypress(["ctrl", "s"])
    assert settled(file_bytes(out), TEXT.encode()) == TEXT.encode()


def test_a_chromium_textarea_gets_every_character(session):
    page = session.files / "typing.html"
    page.write_text(PAGE, encoding="utf-8")
    window = real_apps.chromium(session, page.as_uri(), "typing")
    time.sleep(1.0)  # the page's script has run: its textarea has the focus
    computer(session).type_text(TEXT)

    def typed():
        title = real_apps.window_title(session, window)
        return urllib.parse.unquote(title.removeprefix("typed:")) if title.startswith("typed:") else ""
    assert settled(typed, TEXT) == TEXT


def editor(session, out):
    out.write_bytes(b"")
    app = session.launch("editor", "--open", str(out), geometry="900x600+20+20")
    app.wait_ready()
    return app


def test_the_tk_editor_gets_every_character(session):
    app = editor(session, session.files / "tk.txt")
    computer(session).type_text(TEXT)
    assert settled(lambda: app.record()["state"]["text"], TEXT) == TEXT


def test_keys_by_name_and_character_are_the_keysym_asked_for(session):
    app = editor(session, session.files / "tk.txt")
    typist = computer(session)
    for key in ("<", ">", "?", "a", "enter", "|", "space", "+"):
        typist.keypress([key])  # pyautogui pressed shift with '<' too: '>'
    assert settled(lambda: app.record()["state"]["text"], "<>?a\n| +") == "<>?a\n| +"


def test_caps_lock_and_a_held_shift_do_not_change_what_is_typed(session):
    app = editor(session, session.files / "tk.txt")
    real_apps.xdotool(session, "key", "Caps_Lock")
    real_apps.xdotool(session, "keydown", "shift")
    computer(session).type_text("aB1!<é")
    assert settled(lambda: app.record()["state"]["text"], "aB1!<é") == "aB1!<é"
    from Xlib import X, display

    connection = display.Display(session.display)
    assert connection.screen().root.query_pointer().mask & (X.LockMask | X.ShiftMask) == X.LockMask  # as before
    connection.close()


def test_a_keymap_with_no_spare_keycode_pastes_what_it_has_no_key_for(session):
    from Xlib import display

    connection = display.Display(session.display)
    first = connection.display.info.min_keycode
    for index, row in enumerate(keymap(session)):
        if not any(row):  # every spare keycode taken: U+2603 (a snowman) for all
            connection.change_keyboard_mapping(first + index, [(0x1002603,) * len(row)])
    connection.sync()
    app = editor(session, session.files / "tk.txt")
    subprocess.run(["xclip", "-selection", "clipboard"], input=b"held before", env=session.env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    typist = computer(session)
    typist.type_text("a<é東")
    assert settled(lambda: app.record()["state"]["text"], "a<é東") == "a<é東"
    typist.restore_selections()
    held = subprocess.run(["xclip", "-o", "-selection", "clipboard"], capture_output=True, env=session.env)
    assert held.stdout == b"held before"
    connection.close()


def test_the_stop_keys_listener_is_not_fooled_by_typed_text(session):
    from agent.core.stop import StopWatch

    app = editor(session, session.files / "tk.txt")
    watch = StopWatch(session.display).start()
    try:
        computer(session).type_text(TEXT + ASCII.upper())
        settled(lambda: app.record()["state"]["text"], TEXT + ASCII.upper())
        time.sleep(0.3)
    finally:
        watch.stop()
    assert watch.reason == ""


def galculator_shows(session, typist, keys: str) -> str:
    """What galculator's display shows after `keys`, read from its copy of it (ctrl+c), asked again
    until the clipboard holds it."""
    typist.keypress(["escape"])
    typist.type_text(keys)
    time.sleep(0.5)
    subprocess.run(["xclip", "-selection", "clipboard", "-i", "/dev/null"], env=session.env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(10):
        typist.keypress(["ctrl", "c"])
        time.sleep(0.3)
        if shown := subprocess.run(["xclip", "-o", "-selection", "clipboard"], capture_output=True, text=True,
                                   env=session.env).stdout:
            return shown
    return ""


@pytest.mark.parametrize("keys, result", [("125+375=", "500"), ("111+222+333+444+555+666+777+888+999=", "4995"),
                                          ("1001*99-9999=", "89100")])
def test_galculator_loses_no_repeated_key(session, keys, result):
    real_apps.start(session, ["galculator"], "galculator")
    assert galculator_shows(session, computer(session), keys) == result


def test_only_a_calculator_has_a_key_pressed_again_wait(session):
    """xterm takes repeated keys as fast as they come; galculator ignores a key pressed again while it shows
    its button pressed: Keyboard.type sends keys until one must wait."""
    from agent.core.keyboard import Keyboard

    out = session.files / "typed.txt"
    real_apps.xterm(session, f"cat > {out}", "typing-xterm")
    keyboard = Keyboard(session.display)
    try:
        assert keyboard.type(keyboard.keysyms("aaaa 1001\n")) == 10
        assert settled(file_bytes(out), b"aaaa 1001\n") == b"aaaa 1001\n"
        real_apps.start(session, ["galculator"], "galculator")
        assert keyboard.type(keyboard.keysyms("155")) == 2
    finally:
        keyboard.close()


def test_the_spare_keycodes_of_a_whole_text_are_bound_before_its_first_key(session):
    """Once for the text, not for each chunk the executor types (the apps get BOUND_WAIT to read the map)."""
    from agent.core.executors import TYPE_CHUNK
    from agent.core.keyboard import Keyboard, keysym_of

    keyboard = Keyboard(session.display)
    try:
        keyboard.keysyms("a" * TYPE_CHUNK + "東京")
        assert keysym_of("東") in keyboard.keys and keysym_of("京") in keyboard.keys
        keyboard.restore()
    finally:
        keyboard.close()


def test_a_run_gives_the_keymap_back_when_it_ends(session, tmp_path):
    """A process that runs many tasks (eval's worker, a Python caller) must not leave keycodes bound."""
    import agent

    real_apps.xterm(session, f"cat > {tmp_path / 'typed'}", "keymap")
    before = keymap(session)
    result = agent.run("type", planner=OneActionPlanner(TypeText(content="café 東京\n")), display=session.display,
                       out=tmp_path / "run", stop_keys="none", report=False)
    assert result.status == "done", result
    assert settled(file_bytes(tmp_path / "typed"), "café 東京\n".encode()) == "café 東京\n".encode()
    assert keymap(session) == before
