"""What masking a typed secret costs per screenshot at 1920x1080 (agent.core.mask), against the floor
(no mask: nothing typed, the frame goes out as it is), against the mask of BASE (the changed regions
pinned, plus OCR of every frame for a line that shows the secret), against the mask of NO_ECHO
(the place typed into only, no OCR: it let an echo through) and against the mask of UNGLANCED (each
new line read in full, no glance first), read from git, measured in one run, the five taking turns;
beside each figure, what it covered.

    python bench/mask_cost.py [--rounds 5]

No display is needed: the frames are drawn. A login form (the username typed, its focus ring still
fading as the password is typed into a plain field) beside a page of 40 lines of text. Each round
hands every mask the same seven frames, as a run would: `typed` (the frame after the secret was
typed), `blink` (the caret blinked), `elsewhere` (a status line elsewhere changed to new text, so
OCR cannot answer from its cache), `echo` (a terminal's two lines appear: `$ echo $PW` and the
secret, in a monospace font), `scrolled` (the form moved up 30 px), `gone` (another page in its
place: the form is off the screen, every pixel changed, the page's text on another background),
`newpage` (40 lines of new text on yet another background, one of them a long line that shows the
secret among other words: every line must be read; the worst case for OCR).
Correctness: `secret` is the share of the secret's pixels covered (100% where none shows), `user`
the share of the username field's pixels left as they were, `rest` that of all but the password
field's and the lines that show the secret (the page and the `$ echo $PW` line too).
"""

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.core.mask import SecretMask  # noqa: E402
from agent.core.ocr import engine  # noqa: E402

BASE = "e30ae58"  # the mask with OCR of every frame
NO_ECHO = "898823d"  # the mask without OCR, which let an echo through
UNGLANCED = "7aa609c"  # the mask that read each new line in full
WIDTH, HEIGHT = 1920, 1080
FONT = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 16)
MONO = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf", 14)
SECRET = "hunter2-Secret"  # invented
USER, PASSWORD = (220, 240, 620, 272), (220, 290, 620, 322)
RING, FADED, BORDER = (40, 110, 220), (150, 190, 240), (140, 140, 140)
SCENES = ["typed", "blink", "elsewhere", "echo", "scrolled", "gone", "newpage"]
ECHO = (100, 660, 500, 684)  # where the terminal's line that shows the secret is
SHOWN_ON_PAGE = 7  # the new page's line that shows the secret
SHIFTS = {"scrolled": 30, "gone": 600, "newpage": 600}
KEYS: dict[str, str] = {}
PAGE = [f"{n:2d}. The quick brown fox jumps over the lazy dog, line {n} of the page." for n in range(40)]
NEW_PAGE = [f"{n:2d}. Pack my box with five dozen liquor jugs, said entry {n * 37} of the new list." for n in range(40)]
NEW_PAGE[SHOWN_ON_PAGE] = f" 7. The shop's database password is {SECRET} since the last rotation in May."


def frame(password: str = "", caret: bool = False, status: str = "Ready", shift: int = 0,
          user_ring=FADED, background: str = "white", echo: str | None = None, page: list[str] = PAGE,
          hide_secret: bool = False) -> np.ndarray:
    image = Image.new("RGB", (WIDTH, HEIGHT), background)
    draw = ImageDraw.Draw(image)
    for label, box, text, ring in (("User:", USER, "ada.lovelace", user_ring), ("Password:", PASSWORD, password, RING)):
        x0, y0, x1, y1 = box[0], box[1] - shift, box[2], box[3] - shift
        draw.text((100, y0 + 6), label, fill="black", font=FONT)
        draw.rectangle((x0, y0, x1 - 1, y1 - 1), outline=ring, width=2)
        draw.text((x0 + 8, y0 + 6), text, fill="black", font=FONT)
        if caret and box == PASSWORD:
            right = x0 + 8 + draw.textlength(text, font=FONT) + 1
            draw.line((right, y0 + 6, right, y1 - 7), fill="black")
    for row, line in enumerate(page):
        before, secret, after = line.partition(SECRET)  # the secret drawn apart, so it can be left out in place
        x = 900
        for part, ink in ((before, "black"), (secret, background if hide_secret else "black"), (after, "black")):
            draw.text((x, 100 + 22 * row), part, fill=ink, font=FONT)
            x += FONT.getlength(part)
    draw.text((100, 1000), status, fill="black", font=FONT)
    if echo is not None:
        draw.text((ECHO[0], ECHO[1] - 22), "$ echo $PW", fill="black", font=MONO)
        draw.text((ECHO[0], ECHO[1] + 4), echo, fill="black", font=MONO)
    return np.dstack([np.asarray(image)[:, :, ::-1], np.full((HEIGHT, WIDTH), 255, np.uint8)])


def scenes(round_number: int) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The frame before typing, each scene's frame, and where each shows the secret's glyphs."""
    status = f"Saved {round_number * 7919 % 100000} items"  # new text each round
    settings = {"typed": {"caret": True}, "blink": {}, "elsewhere": {"status": status},
                "echo": {"status": status, "echo": SECRET},
                "scrolled": {"status": status, "shift": SHIFTS["scrolled"], "echo": SECRET},
                "gone": {"shift": SHIFTS["gone"], "background": "#f0f0e8"},
                "newpage": {"shift": SHIFTS["gone"], "background": "#e8f0f8", "page": NEW_PAGE}}
    shown = {scene: frame(SECRET, **options) for scene, options in settings.items()}
    secret = {}
    for scene, options in settings.items():
        glyphs = {key: value for key, value in options.items() if key != "caret"}
        blank = glyphs | ({"echo": ""} if "echo" in glyphs else {}) | (
            {"hide_secret": True} if "page" in glyphs else {})
        secret[scene] = (frame(SECRET, **glyphs) != frame("", **blank)).any(axis=2)
    return frame(user_ring=RING), shown, secret


def mask_of(commit: str):
    """The SecretMask of a commit, loaded from git."""
    source = subprocess.run(["git", "show", f"{commit}:agent/core/mask.py"], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout
    path = Path(tempfile.mkdtemp()) / f"mask_{commit}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(f"mask_{commit}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SecretMask


def share(flags: np.ndarray) -> float:
    return float(flags.mean()) if flags.size else 1.0  # nothing to count: all of it


def run_round(make_mask, typed: bool, round_number: int) -> dict[str, tuple[float, ...]]:
    """Each scene's milliseconds and shares: of the secret covered, of the username field and of all
    but the password field untouched."""
    before, shown, secret = scenes(round_number)
    mask, results, last = make_mask(), {}, before
    mask.hide(before)  # the frame before typing, handed in as a run does
    if typed:
        mask.secret_typed(SECRET)
    for scene in SCENES:
        started = time.perf_counter()
        hidden = mask.hide(shown[scene], last)
        elapsed = 1000 * (time.perf_counter() - started)
        shift = SHIFTS.get(scene, 0)
        user = np.zeros(secret[scene].shape, bool)  # the username field, where it is now
        user[max(0, USER[1] - shift):max(0, USER[3] - shift), USER[0]:USER[2]] = True
        rest = np.ones(secret[scene].shape, bool)  # all but the password field
        rest[max(0, PASSWORD[1] - shift):max(0, PASSWORD[3] - shift), PASSWORD[0]:PASSWORD[2]] = False
        rest[ECHO[1]:ECHO[3], ECHO[0]:ECHO[2]] = False
        if scene == "newpage":  # its line that shows the secret
            rest[100 + 22 * SHOWN_ON_PAGE:122 + 22 * SHOWN_ON_PAGE, 900:] = False
        results[scene] = (elapsed, *(share((hidden[where][:, :3] == 64).all(axis=1)) for where in [secret[scene]]),
                          *(share((hidden[where] == shown[scene][where]).all(axis=1)) for where in (user, rest)))
        last = shown[scene]
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    paths = {"floor (no mask)": (SecretMask, False), f"OCR all {BASE}": (mask_of(BASE), True),
             f"no echo {NO_ECHO}": (mask_of(NO_ECHO), True), f"full {UNGLANCED}": (mask_of(UNGLANCED), True),
             "this mask": (SecretMask, True)}
    KEYS.update(zip(paths, ["floor", "ocr_all", "no_echo", "unglanced", "mask"]))
    found = {name: {scene: [] for scene in SCENES} for name in paths}
    for round_number in range(rounds):
        names = list(paths)[round_number % len(paths):] + list(paths)[:round_number % len(paths)]  # taking turns
        for name in names:
            make, typed = paths[name]
            engine()._texts.clear()  # each mask reads the round's text for the first time, as a run does
            for scene, result in run_round(make, typed, round_number).items():
                found[name][scene].append(result)
    print(f"masking one 1920x1080 screenshot, {rounds} rounds: median ms (max) | secret covered | "
          "username field untouched | all but the password field and the echoed line untouched")
    print(f"{'':16}" + "".join(f"{scene:>33}" for scene in SCENES))
    figures = []
    for name, by_scene in found.items():
        cells = []
        for scene in SCENES:
            times = [r[0] for r in by_scene[scene]]
            secret, user, rest = (min(r[i] for r in by_scene[scene]) for i in (1, 2, 3))
            cells.append(f"{statistics.median(times):6.1f} ({max(times):6.1f}) {secret:4.0%} {user:4.0%} {rest:4.0%}")
            figures.append(f"{KEYS[name]}_{scene}_ms={statistics.median(times):.1f}")
        print(f"{name:16}" + "".join(f"{cell:>33}" for cell in cells))
    print(" ".join(figures))


if __name__ == "__main__":
    main()
