"""The demo apps look the same on every machine, so a recorded episode replays anywhere: Tk's named
fonts are DejaVu Sans and DejaVu Sans Mono, found through a font configuration of the apps' own
(fonts.conf: the DejaVu folder and fixed rendering settings, nothing another package installs), and
sizes in points turn into the same pixels on any display: fonts.conf fixes fontconfig's DPI, and Tk's
scaling is set to the same.

The DPI is 96.09 rather than 96: Xvfb -dpi 96 on the 768-pixel-high test screen reports 203 mm,
i.e. 96.09 dpi, which the recorded episodes were made at. (Tk's pixel sizes are whole numbers: 13 px
instead of today's 13.35 would change every recorded screenshot.)"""

import os
from pathlib import Path
from typing import Literal

FONTCONFIG = Path(__file__).with_name("fonts.conf")
FONT_FOLDERS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))  # fonts.conf's <dir>s
FONT_FILES = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSansMono.ttf")
DPI = 96.09  # as fonts.conf's <edit name="dpi">

SANS, MONO = "DejaVu Sans", "DejaVu Sans Mono"
# Tk's named fonts: family, size in points at DPI, weight
FONTS: dict[str, tuple[str, int, Literal["normal", "bold"]]] = {
    "TkDefaultFont": (SANS, 10, "normal"),
    "TkTextFont": (SANS, 10, "normal"),
    "TkMenuFont": (SANS, 10, "normal"),
    "TkIconFont": (SANS, 10, "normal"),
    "TkHeadingFont": (SANS, 10, "bold"),
    "TkCaptionFont": (SANS, 12, "bold"),
    "TkSmallCaptionFont": (SANS, 9, "normal"),
    "TkTooltipFont": (SANS, 9, "normal"),
    "TkFixedFont": (MONO, 10, "normal"),
}


def missing_fonts() -> str | None:
    """What is missing for the apps' fonts, in one line, or None."""
    for name in FONT_FILES:
        if not any((folder / name).is_file() for folder in FONT_FOLDERS):
            return (f"the demo apps need the DejaVu fonts ({name} in {FONT_FOLDERS[0]}): "
                    "apt-get install fonts-dejavu-core")
    return None


def demo_root(geometry: str | None = None):
    """Tk's root window with the apps' fonts and scaling; a one-line error when the fonts are missing."""
    import tkinter as tk
    from tkinter import font

    if error := missing_fonts():
        raise SystemExit(f"error: {error}")
    os.environ["FONTCONFIG_FILE"] = str(FONTCONFIG)  # fontconfig reads it once, when Tk makes its first font
    root = tk.Tk()
    root.tk.call("tk", "scaling", DPI / 72)  # pixels per point
    for name, (family, size, weight) in FONTS.items():
        font.Font(root, name=name, exists=True).configure(family=family, size=size, weight=weight)
    if geometry:
        root.geometry(geometry)
    return root
