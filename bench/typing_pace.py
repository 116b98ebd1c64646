"""Typing into real apps in Xvfb: characters per second and whether each app got exactly the text, for
the executor's typing (keysyms through XTest; in a calculator, a key pressed again DEBOUNCE_GAP after
the app answered a ping), the peer (pyautogui.write, what the executor used before) and the floor (the
same keysyms with no pacing at all), the three taking turns in one run (a different one first each round).

    python bench/typing_pace.py [--rounds 3]

Texts: `prose`, ASCII English with doubled letters (the pacing's cost on ordinary text); `mixed`, every
printable ASCII character, é ñ ß 東京 😀, a tab and a newline (the test's string); `sum`, a sum of
repeated digits for galculator (its result read back from galculator's copy of its display). Apps:
xterm (`cat > FILE`), the Tk demo editor (its record), Chromium (a textarea whose value the page writes
into its title), galculator. cps counts from the call to its return (for the executor, its waits too);
`exact` is how many rounds the app got the text byte for byte.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import agent.core.keyboard as keyboard  # noqa: E402
from agent.core.executors import PyAutoGUIComputer  # noqa: E402
from agent.core.geometry import Monitor  # noqa: E402
from sandbox.session import XSession  # noqa: E402
from tests.support import real_apps  # noqa: E402

PROSE = ("Bookkeepers will occasionally need three good cottage apples, and all the committee's "
         "coffee: a Mississippi success, fully accessible. ") * 2
MIXED = "".join(map(chr, range(0x20, 0x7F))) + "é ñ ß 東京 😀\tend\n"
SUM, SUM_RESULT = "111+222+333+444+555+666+777+888+999=", "4995"
PAGE = """<!doctype html><meta charset="utf-8"><title>bench</title><textarea id="t" autofocus></textarea>
<script>const t = document.getElementById("t"); t.focus();
const show = () => { document.title = "typed:" + encodeURIComponent(t.value); };
t.addEventListener("input", show);
t.addEventListener("keydown", (e) => { if (e.key === "Tab") { e.preventDefault();
  t.setRangeText("\\t", t.selectionStart, t.selectionEnd, "end"); show(); } });</script>"""
PATHS = ("executor", "pyautogui", "floor")


def type_with(computer: PyAutoGUIComputer, path: str, text: str) -> float:
    start = time.monotonic()
    if path == "pyautogui":
        computer._gui.write(text)
    elif path == "floor":
        keyboard.DEBOUNCING_CLASSES, classes = (), keyboard.DEBOUNCING_CLASSES
        try:
            computer.type_text(text)
        finally:
            keyboard.DEBOUNCING_CLASSES = classes
    else:
        computer.type_text(text)
    return time.monotonic() - start


def until(read, want, timeout=5.0):
    deadline = time.monotonic() + timeout
    while (got := read()) != want and time.monotonic() < deadline:
        time.sleep(0.05)
    return got


class Xterm:
    texts = {"prose": PROSE + "\n", "mixed": MIXED}

    def __init__(self, session):
        self.out = session.files / "xterm.txt"
        self.window = real_apps.xterm(session, f"cat > {self.out}", "bench-xterm")
        self.session = session

    def typed(self, computer, path, text):
        real_apps.xdotool(self.session, "windowactivate", "--sync", self.window)
        before = self.out.read_bytes() if self.out.exists() else b""
        seconds = type_with(computer, path, text)
        got = until(lambda: self.out.read_bytes()[len(before):], text.encode())
        return seconds, got == text.encode()


class TkEditor:
    texts = {"prose": PROSE, "mixed": MIXED}

    def __init__(self, session):
        path = session.files / "editor.txt"
        path.write_text("")
        self.app = session.launch("editor", "--open", str(path), geometry="900x600+20+20")
        self.app.wait_ready()
        self.window = real_apps.wait_for_window(session, "Demo Editor")
        self.session = session

    def typed(self, computer, path, text):
        real_apps.xdotool(self.session, "windowactivate", "--sync", self.window)
        before = self.app.record()["state"]["text"]
        seconds = type_with(computer, path, text)
        return seconds, until(lambda: self.app.record()["state"]["text"], before + text) == before + text


class Chromium:
    texts = {"prose": PROSE, "mixed": MIXED}

    def __init__(self, session):
        page = session.files / "bench.html"
        page.write_text(PAGE, encoding="utf-8")
        self.window = real_apps.chromium(session, page.as_uri(), "^bench$")
        self.session = session
        time.sleep(1.0)

    def value(self):
        title = real_apps.window_title(self.session, self.window)
        return urllib.parse.unquote(title.removeprefix("typed:")) if title.startswith("typed:") else ""

    def typed(self, computer, path, text):
        real_apps.xdotool(self.session, "windowactivate", "--sync", self.window)
        computer.keypress(["ctrl", "a"])
        computer.keypress(["backspace"])  # the title holds one text: a window title has a length limit
        until(self.value, "")
        seconds = type_with(computer, path, text)
        return seconds, until(self.value, text) == text


class Galculator:
    texts = {"sum": SUM}

    def __init__(self, session):
        self.window = real_apps.start(session, ["galculator"], "galculator")
        self.session = session

    def typed(self, computer, path, text):
        real_apps.xdotool(self.session, "windowactivate", "--sync", self.window)
        computer.keypress(["escape"])
        time.sleep(0.2)
        seconds = type_with(computer, path, text)
        time.sleep(0.5)
        clipboard = ["xclip", "-selection", "clipboard"]
        subprocess.run([*clipboard, "-i", "/dev/null"], env=self.session.env, stderr=subprocess.DEVNULL)
        computer.keypress(["ctrl", "c"])
        shown = until(lambda: subprocess.run([*clipboard, "-o"], capture_output=True, text=True,
                                             env=self.session.env).stdout, SUM_RESULT, timeout=2)
        return seconds, shown == SUM_RESULT


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results: dict[tuple, list] = {}
    with XSession(1280, 800) as session:
        os.environ.update(DISPLAY=session.display, XAUTHORITY=session.env["XAUTHORITY"])
        apps = [Xterm(session), TkEditor(session), Chromium(session), Galculator(session)]
        computer = PyAutoGUIComputer(session.display, Monitor(0, 0, 1280, 800))
        for round_ in range(args.rounds):
            paths = PATHS[round_ % 3:] + PATHS[:round_ % 3]
            for app in apps:
                for name, text in app.texts.items():
                    for path in paths:
                        seconds, exact = app.typed(computer, path, text)
                        computer.restore_keymap()  # as before the loop's next action
                        results.setdefault((type(app).__name__, name, path), []).append((len(text) / seconds, exact))
    print(f"{'app':<11}{'text':<7}{'path':<11}{'cps (median)':>13}{'exact':>8}")
    for (app, text, path), runs in results.items():
        cps = statistics.median(run[0] for run in runs)
        print(f"{app:<11}{text:<7}{path:<11}{cps:>13.0f}{sum(run[1] for run in runs):>5}/{len(runs)}")
    exact = {path: sum(run[1] for key, runs in results.items() if key[2] == path for run in runs) for path in PATHS}
    prose = {path: statistics.median(run[0] for key, runs in results.items() if key[1:] == ("prose", path)
                                     for run in runs) for path in PATHS}
    print(" ".join(f"{path}_prose_cps={prose[path]:.0f} {path}_exact={exact[path]}/{len(results) // 3 * args.rounds}"
                   for path in PATHS))


if __name__ == "__main__":
    main()
