"""The demo apps look the same whatever fonts and font configuration the machine has, so the recorded
episodes (tests/episodes/) replay on any machine: desktop apps that bring fonts and fontconfig rules
change nothing in the apps' screenshots."""

import time

import mss
import pytest

from sandbox.apps import look
from sandbox.session import SandboxError, XSession
from tests.support.scenarios import HEIGHT, WIDTH

# The system's rules with nothing but fonts-dejavu-core: the machine before desktop apps brought fonts.
DEJAVU_ONLY = """<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">
<fontconfig>
  <dir>/usr/share/fonts/truetype/dejavu</dir>
  <include ignore_missing="yes">/etc/fonts/conf.d</include>
</fontconfig>
"""
# Another font first for every family and no antialiasing: what a font package or a user's
# fonts.conf can do to the system's font configuration.
OTHER_FONTS = """<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">
<fontconfig>
  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>
  <match target="pattern">
    <edit name="family" mode="prepend" binding="strong"><string>DejaVu Serif</string></edit>
    <edit name="pixelsize" mode="assign"><double>17</double></edit>
  </match>
  <match target="font"><edit name="antialias" mode="assign"><bool>false</bool></edit></match>
</fontconfig>
"""


def screen_of_both_apps(monkeypatch, fontconfig_file: str | None = None, dpi: int = 96) -> bytes:
    """The screen with the editor and the form side by side, once it has stopped changing."""
    if fontconfig_file:
        monkeypatch.setenv("FONTCONFIG_FILE", fontconfig_file)  # for openbox and the apps alike
    else:
        monkeypatch.delenv("FONTCONFIG_FILE", raising=False)
    with XSession(WIDTH, HEIGHT, dpi=dpi) as session:
        # The form opens last and takes the focus, so the editor's caret does not blink.
        for app, geometry in (("editor", "600x420+740+40"), ("form", "700x560+10+30")):
            session.launch(app, geometry=geometry).wait_ready()
        monkeypatch.setenv("XAUTHORITY", session.env["XAUTHORITY"])
        with mss.MSS(display=session.display) as screen:
            previous, deadline = None, time.monotonic() + 5
            while True:
                time.sleep(0.2)
                current = screen.grab(screen.monitors[1]).rgb
                if current == previous or time.monotonic() > deadline:
                    return current
                previous = current


@pytest.mark.xvfb
@pytest.mark.parametrize("config", [DEJAVU_ONLY, OTHER_FONTS], ids=["dejavu_only", "other_fonts"])
def test_the_demo_apps_look_the_same_under_another_font_configuration(config, monkeypatch, tmp_path):
    other = tmp_path / "fonts.conf"
    other.write_text(config)
    assert screen_of_both_apps(monkeypatch, str(other)) == screen_of_both_apps(monkeypatch)


@pytest.mark.xvfb
def test_the_demo_apps_look_the_same_on_a_display_of_another_dpi(monkeypatch):
    assert screen_of_both_apps(monkeypatch, dpi=144) == screen_of_both_apps(monkeypatch)


def test_tk_and_fontconfig_turn_points_into_pixels_at_the_same_dpi():
    assert f'<edit name="dpi" mode="assign"><double>{look.DPI}</double></edit>' in look.FONTCONFIG.read_text()


def test_missing_fonts_are_a_one_line_error(monkeypatch, tmp_path):
    monkeypatch.setattr(look, "FONT_FOLDERS", (tmp_path,))
    assert look.missing_fonts() == ("the demo apps need the DejaVu fonts (DejaVuSans.ttf in "
                                    f"{tmp_path}): apt-get install fonts-dejavu-core")
    for name in look.FONT_FILES:
        (tmp_path / name).touch()
    assert look.missing_fonts() is None


def test_a_session_without_the_fonts_refuses_to_launch_an_app_in_one_line(monkeypatch, tmp_path):
    monkeypatch.setattr(look, "FONT_FOLDERS", (tmp_path,))
    session = XSession(WIDTH, HEIGHT)
    with pytest.raises(SandboxError, match="^the demo apps need the DejaVu fonts .*apt-get install fonts-dejavu-core$"):
        session.launch("form")
    session.stop()
