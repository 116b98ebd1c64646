"""Real Debian desktop apps (GTK's mousepad, galculator, zenity, pcmanfm; Chromium; xterm) started in a
test's XSession, for the tests that must hold on apps nobody here wrote."""

import re
import shutil
import subprocess
import time
from contextlib import contextmanager

import pytest

from sandbox.session import XSession

PACKAGES = {"mousepad": "mousepad", "galculator": "galculator", "zenity": "zenity", "pcmanfm": "pcmanfm",
            "chromium": "chromium", "xterm": "xterm"}
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-features=Translate",
                  "--password-store=basic", "--disable-smooth-scrolling"]


def require(program: str) -> str:
    """The program's path; the test fails (not skips) when .ci/install has not installed it."""
    path = shutil.which(program)
    if not path:
        pytest.fail(f"{program} is not installed: run .ci/install (apt-get install {PACKAGES.get(program, program)})")
    return path


def xdotool(session: XSession, *args: str, timeout: float = 10) -> str:
    return subprocess.run(["xdotool", *args], env=session.env, capture_output=True, text=True,
                          timeout=timeout).stdout.strip()


def wait_for_window(session: XSession, name: str, timeout: float = 30.0) -> str:
    """The id of the first visible window whose title matches the regular expression `name`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = xdotool(session, "search", "--onlyvisible", "--name", name).split()
        if found:
            return found[0]
        time.sleep(0.1)
    pytest.fail(f"no window titled {name!r} on {session.display} after {timeout:g} s")


@contextmanager
def paced_as_a_calculator(session: XSession, title: str):
    """The window titled `title` presents itself as a calculator (its WM_CLASS) for the time of the `with`: the
    agent presses a calculator's repeated keys only once the app has handled the last (about 7 a second; other
    apps take text unpaced), so a long text of one letter lasts long enough to be stopped, cut or killed."""
    window = wait_for_window(session, title)
    shown = subprocess.run(["xprop", "-id", window, "WM_CLASS"], env=session.env, capture_output=True, text=True)
    name, kind = re.findall(r'"([^"]*)"', shown.stdout)
    xdotool(session, "set_window", "--class", "Calculator", "--classname", "calculator", window)
    try:
        yield
    finally:
        xdotool(session, "set_window", "--class", kind, "--classname", name, window)


def window_title(session: XSession, window: str) -> str:
    return xdotool(session, "getwindowname", window)


def start(session: XSession, command: list[str], title: str, timeout: float = 30.0, env: dict | None = None,
          **kwargs) -> str:
    """Starts a real app (quietly: no accessibility bus, no session bus warnings) and returns its window id
    once a visible window titled `title` (a regular expression) is mapped and focused. `env` adds to the
    session's environment."""
    require(command[0])
    env = {**session.env, "NO_AT_BRIDGE": "1", "GTK_A11Y": "none", "GDK_BACKEND": "x11", **(env or {})}
    session.spawn(command, env=env, **kwargs)
    window = wait_for_window(session, title, timeout)
    xdotool(session, "windowactivate", "--sync", window)
    return window


def chromium(session: XSession, url: str, title: str, timeout: float = 40.0) -> str:
    """Chromium showing `url` as an app window (no browser chrome), with a profile of its own in the session."""
    profile = session.files.parent / f"chromium-{time.monotonic_ns()}"
    return start(session, ["chromium", *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--app={url}"],
                 title, timeout)


def gtk_settings(folder, **settings) -> dict:
    """An environment whose GTK 3 apps take these settings (gtk-cursor-blink-time=100 as
    cursor_blink_time=100), from a settings.ini in `folder`."""
    ini = folder / "gtk-3.0" / "settings.ini"
    ini.parent.mkdir(parents=True, exist_ok=True)
    ini.write_text("[Settings]\n" + "".join(f"gtk-{k.replace('_', '-')}={v}\n" for k, v in settings.items()))
    return {"XDG_CONFIG_HOME": str(folder)}


def origin(session: XSession, window: str) -> tuple[int, int]:
    """Where the window's top-left corner is on the screen (xdotool's position counts the frame twice)."""
    out = subprocess.run(["xwininfo", "-id", window], env=session.env, capture_output=True, text=True).stdout
    values = dict(line.strip().split(":", 1) for line in out.splitlines() if "Absolute upper-left" in line)
    return int(values["Absolute upper-left X"]), int(values["Absolute upper-left Y"])


def xterm(session: XSession, shell_command: str, title: str, timeout: float = 30.0) -> str:
    """xterm in UTF-8 (LANG=C.UTF-8, -u8) running `shell_command`, titled `title`."""
    require("xterm")
    return start(session, ["env", "LANG=C.UTF-8", "LC_ALL=C.UTF-8", "xterm", "-u8", "-title", title,
                           "-e", "sh", "-c", shell_command], title, timeout)
