"""Typed secrets are covered in the pixels where they were typed, within the field they went into (a
focus ring that fades meanwhile, in another field or this one, is no typed text and stays as it is),
and wherever OCR reads them again in what changed since."""

import numpy as np
from PIL import Image, ImageDraw, ImageFont

import agent.core.mask
import agent.core.ocr
from agent.core.mask import SecretMask, changes_since
from agent.core.ocr import OCR

FONT = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 16)
SECRET = "hunter2-Secret"  # invented
USER = (120, 40, 420, 72)  # the username field's box
PASSWORD = (120, 90, 420, 122)
RING, FADED, BORDER = (40, 110, 220), (150, 190, 240), (140, 140, 140)  # RGB


def form(ring: dict[tuple, tuple] | None = None, password: str = "", caret: bool = False, shift: int = 0,
         selected: bool = False) -> np.ndarray:
    """A login form (BGRA): the username typed, `password` in its (plain) field (`selected`: white on
    blue), each field's outline drawn in `ring`'s colour for it (else a grey border), moved up `shift` pixels."""
    image = Image.new("RGB", (640, 360), "white")
    draw = ImageDraw.Draw(image)
    for label, box, text in (("User:", USER, "ada.lovelace"), ("Password:", PASSWORD, password)):
        x0, y0, x1, y1 = box[0], box[1] - shift, box[2], box[3] - shift
        draw.text((20, y0 + 6), label, fill="black", font=FONT)
        draw.rectangle((x0, y0, x1 - 1, y1 - 1), outline=(ring or {}).get(box, BORDER), width=2)
        ink = "black"
        if selected and box == PASSWORD:
            draw.rectangle((x0 + 8, y0 + 5, x0 + 8 + draw.textlength(text, font=FONT), y1 - 6), fill=RING)
            ink = "white"
        draw.text((x0 + 8, y0 + 6), text, fill=ink, font=FONT)
        if caret and box == PASSWORD:
            right = x0 + 8 + draw.textlength(text, font=FONT) + 1
            draw.line((right, y0 + 6, right, y1 - 7), fill="black")
    return np.dstack([np.asarray(image)[:, :, ::-1], np.full((360, 640), 255, np.uint8)])


def read(pixels: np.ndarray, box=None) -> str:
    if box is not None:
        pixels = np.ascontiguousarray(pixels[box[1]:box[3], box[0]:box[2]])
    return " ".join(line.text for line in OCR().read(pixels, full=True))


def secret_pixels(with_secret: np.ndarray, without: np.ndarray) -> np.ndarray:
    return (with_secret != without).any(axis=2)


def covered(pixels: np.ndarray, where: np.ndarray) -> bool:
    return bool((pixels[where][:, :3] == 64).all())


def test_the_field_typed_into_is_covered_and_another_whose_focus_ring_fades_meanwhile_stays_readable():
    # clicked into Password: User's ring is still fading while the secret is typed, Password's fades in
    before = form({USER: RING, PASSWORD: FADED})
    typed = form({USER: FADED, PASSWORD: RING}, password=SECRET, caret=True)
    assert "hunter2" in read(typed)  # OCR reads it when nothing is done
    mask = SecretMask()
    assert mask.hide(typed, before) is typed  # nothing typed yet: nothing hidden
    mask.secret_typed(SECRET)
    hidden = mask.hide(typed, before)
    assert "hunter2" not in read(hidden).lower()
    assert covered(hidden, secret_pixels(typed, form({USER: FADED, PASSWORD: RING})))
    x0, y0, x1, y1 = USER
    assert np.array_equal(hidden[y0 - 2:y1 + 2, :], typed[y0 - 2:y1 + 2, :])  # the username's field untouched
    assert "ada.lovelace" in read(hidden, (0, y0 - 4, 640, y1 + 4))

    # the caret blinks, then the view scrolls: the secret stays covered where it is, nothing else is
    blinked = form({USER: FADED, PASSWORD: RING}, password=SECRET)
    assert covered(mask.hide(blinked, typed), secret_pixels(blinked, form({USER: FADED, PASSWORD: RING})))
    scrolled = form({USER: FADED, PASSWORD: RING}, password=SECRET, shift=30)
    hidden = mask.hide(scrolled, blinked)
    assert covered(hidden, secret_pixels(scrolled, form({USER: FADED, PASSWORD: RING}, shift=30)))
    assert "ada.lovelace" in read(hidden) and "hunter2" not in read(hidden).lower()


def test_a_secret_stays_covered_while_its_field_is_there_and_text_typed_after_it_does_not():
    before = form({PASSWORD: RING})
    typed = form({PASSWORD: RING}, password=SECRET)
    mask = SecretMask()
    mask.secret_typed(SECRET)
    assert covered(mask.hide(typed, before), secret_pixels(typed, before))
    more = form({PASSWORD: RING}, password=SECRET + " xyz")
    hidden = mask.hide(more, typed)  # typed after the secret: not covered
    assert covered(hidden, secret_pixels(typed, before)) and "xyz" in read(hidden, PASSWORD)
    selected = form({PASSWORD: RING}, password=SECRET + " xyz", selected=True)  # most of its pixels changed
    hidden = mask.hide(selected, more)
    assert covered(hidden, secret_pixels(typed, before)) and "hunter2" not in read(hidden).lower()
    gone = screen_of_text({(20, 20): "Welcome, ada.lovelace"})
    assert mask.hide(gone, selected) is gone  # the field is gone: nothing covered


def test_a_character_typed_alone_is_covered_though_its_inside_did_not_change():
    before = screen_of_text({(20, 20): "Code:"})
    typed = screen_of_text({(20, 20): "Code:", (100, 16): "O  o  0"})
    mask = SecretMask()
    mask.secret_typed("O  o  0")
    assert covered(mask.hide(typed, before), secret_pixels(typed, before))


def screen_of_text(lines: dict[tuple[int, int], str]) -> np.ndarray:
    image = Image.new("RGB", (640, 360), "white")
    draw = ImageDraw.Draw(image)
    for (x, y), text in lines.items():
        draw.text((x, y), text, fill="black", font=FONT)
    return np.dstack([np.asarray(image)[:, :, ::-1], np.full((360, 640), 255, np.uint8)])


def test_a_typed_secret_is_covered_where_it_was_typed_and_where_it_shows_again():
    before = screen_of_text({(20, 20): "Name:", (20, 60): "Password:"})
    typed = screen_of_text({(20, 20): "Name:", (20, 60): "Password:", (120, 60): SECRET})
    assert "hunter2" in read(typed)  # OCR reads it when nothing is done
    mask = SecretMask()
    assert mask.hide(typed, before) is typed  # nothing typed yet: nothing hidden
    mask.secret_typed(SECRET)
    hidden = mask.hide(typed, before)
    assert "hunter2" not in read(hidden) and "Name" in read(hidden)
    elsewhere = screen_of_text({(20, 20): "Name:", (300, 200): f"echo {SECRET} > notes", (20, 300): "A secret note"})
    hidden = mask.hide(elsewhere, typed)
    text = read(hidden)
    assert "hunter2" not in text.lower() and "note" in text.lower()  # the echoed line is covered, others stay
    still = mask.hide(elsewhere, elsewhere)  # nothing changed: still covered, from what was read
    assert "hunter2" not in read(still).lower() and "A secret note" in read(still)


def test_an_echo_in_another_font_is_covered_and_the_username_typed_before_is_not(monkeypatch):
    mono = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf", 14)
    before = form({USER: RING, PASSWORD: FADED})
    typed = form({USER: FADED, PASSWORD: RING}, password=SECRET)
    mask = SecretMask()
    mask.hide(before)  # the frame before typing, handed in as a run does
    mask.secret_typed(SECRET)
    reads = []
    real_read = agent.core.mask.read_lines
    monkeypatch.setattr(agent.core.mask, "read_lines", lambda *args: reads.extend(args[2]) or real_read(*args))
    mask.hide(typed, before)
    assert reads == []  # nothing changed outside the place typed into and a ring: nothing read
    image = Image.fromarray(np.ascontiguousarray(typed[:, :, 2::-1]))
    draw = ImageDraw.Draw(image)
    draw.text((20, 200), f"$ echo {SECRET}", fill="black", font=mono)
    draw.text((20, 220), SECRET, fill="black", font=mono)
    draw.text((20, 240), "$ ls notes", fill="black", font=mono)
    echoed = np.dstack([np.asarray(image)[:, :, ::-1], np.full((360, 640), 255, np.uint8)])
    text = read(mask.hide(echoed, typed))
    assert "hunter" not in text.lower() and "secret" not in text.lower(), text
    assert "ls notes" in text and "ada.lovelace" in text  # the other lines, and the username, stay readable
    assert all(box[1] >= 190 for box in reads)  # only the lines that changed were read


MONO = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf", 13)
TERMINAL = [f"-rw-r--r-- 1 ada ada {n * 731 % 9000:5d} Dec  7 report-{n}.txt" for n in range(14)]


def page(lines: list[str], background="white", ink="black", top: int = 8, width: int = 1000) -> np.ndarray:
    """A terminal-like page (BGRA) of monospace lines, 17 pixels apart from `top`."""
    image = Image.new("RGB", (width, 300), background)
    draw = ImageDraw.Draw(image)
    for row, text in enumerate(lines):
        draw.text((8, top + 17 * row), text, fill=ink, font=MONO)
    return np.dstack([np.asarray(image)[:, :, ::-1], np.full((300, width), 255, np.uint8)])


def reading_spy(monkeypatch) -> list:
    reads = []
    real_read = agent.core.mask.read_lines
    monkeypatch.setattr(agent.core.mask, "read_lines", lambda *args: reads.extend(args[2]) or real_read(*args))
    return reads


def test_an_echo_on_a_new_page_is_covered_in_a_line_with_other_text_and_in_a_long_line():
    before = page(["Name: ada.lovelace", "Password:"])
    typed = page(["Name: ada.lovelace", f"Password: {SECRET}"])
    caret = 8 + int(MONO.getlength(f"Password: {SECRET}")) + 1
    typed[8 + 17:8 + 17 + 15, caret, :3] = 0
    mask = SecretMask()
    mask.hide(before)
    mask.secret_typed(SECRET)
    mask.hide(typed, before)
    shown = ["$ mysql -u ada -p" + SECRET + " shop", *TERMINAL[:6],
             "note: the deploy used " + SECRET + " as the database password for the shop service, rotate it today"]
    for background, ink in (("#202020", "#d0d0d0"), ("#f4f4ec", "black")):  # every pixel changed
        new_page = page(shown, background=background, ink=ink)
        blank = page([line.replace(SECRET, " " * len(SECRET)) for line in shown], background=background, ink=ink)
        hidden = mask.hide(new_page, typed)
        assert covered(hidden, secret_pixels(new_page, blank))
        text = read(hidden)
        assert "hunter" not in text.lower() and "report-3.txt" in text  # the other lines stay readable


def test_a_scrolled_or_dimmed_page_is_not_read_again_but_an_echo_on_it_stays_covered(monkeypatch):
    before = page(TERMINAL[:10] + ["$ read -s PW"])  # the secret typed shows nowhere
    echoed = page(TERMINAL[:10] + ["$ read -s PW", "$ echo $PW", SECRET])
    mask = SecretMask()
    mask.hide(before)
    mask.secret_typed(SECRET)
    mask.hide(before, before)
    reads = reading_spy(monkeypatch)
    hidden = mask.hide(echoed, before)
    assert "hunter" not in read(hidden).lower() and len(reads) == 2  # the two new lines only
    scrolled = page(TERMINAL[1:10] + ["$ read -s PW", "$ echo $PW", SECRET, "$ ls"])  # one line up, one new line
    reads.clear()
    hidden = mask.hide(scrolled, echoed)
    assert covered(hidden, secret_pixels(scrolled, page(TERMINAL[1:10] + ["$ read -s PW", "$ echo $PW", "", "$ ls"])))
    # the lines that scrolled are not read again; the echo (covered, so it explains nothing) and $ ls are
    assert all(box[1] >= 8 + 17 * 10 for box in reads)
    dimmed = (scrolled.astype(np.uint16) * 3 // 5).astype(np.uint8)  # behind a dialog's shade
    dimmed[:, :, 3] = 255
    reads.clear()
    hidden = mask.hide(dimmed, scrolled)
    assert "hunter" not in read(hidden).lower() and "report-5.txt" in read(hidden)
    assert all(box[1] >= 8 + 17 * 10 for box in reads)


def test_a_recolouring_that_adds_contrast_explains_nothing():
    sharp = page(TERMINAL[:4])[:, :, 1]
    faint = 128 + sharp // 2  # the same shapes at half the contrast
    assert not changes_since(sharp, faint, []).any()  # faded: what it shows was shown
    assert changes_since(faint, sharp, []).sum() == np.count_nonzero(faint != sharp)  # faded in: read again


def test_a_glance_clears_a_line_only_when_it_is_sure_and_shows_too_little_of_every_secret():
    from agent.core.mask import clears, fold

    secrets = [fold(SECRET)]
    assert clears("Saved 80231 items", 0.98, secrets)
    assert not clears("Saved 80231 items", 0.85, secrets)  # unsure
    assert not clears("$ echo hun", 0.98, secrets)  # three of its characters in a row
    assert not clears("The password is hunterSecret since May", 0.98, secrets)  # its '2-' dropped
    assert not clears("Saved 80231 items", 0.98, secrets + [fold("!@#$%^&*")])  # marks only: always read in full


def test_a_small_echo_the_glance_misreads_is_read_in_full_and_covered(monkeypatch):
    small = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed.ttf", 11)

    def echo(secret: str) -> np.ndarray:  # the line drawn in parts, so the secret can be left out in place
        image = Image.new("RGB", (640, 360), "white")
        draw, x = ImageDraw.Draw(image), 20.0
        for part in ("The password is ", secret, " since May."):
            draw.text((x, 200), part, fill="black", font=small)
            x += small.getlength(part if part else SECRET)
        return np.dstack([np.asarray(image)[:, :, ::-1], np.full((360, 640), 255, np.uint8)])

    before, echoed = screen_of_text({}), echo(SECRET)
    spied = []
    real_glance = agent.core.ocr.Engine.glance
    monkeypatch.setattr(agent.core.ocr.Engine, "glance", lambda *args: spied.append(real_glance(*args)) or spied[-1])

    def masked() -> np.ndarray:
        agent.core.ocr.engine()._texts.clear()
        mask = SecretMask()
        mask.hide(before)
        mask.secret_typed(SECRET)
        mask.hide(before, before)  # typed where it shows nothing (read -s)
        return mask.hide(echoed, before)

    assert covered(masked(), secret_pixels(echoed, echo("")))
    assert len(spied) == 1 and not agent.core.mask.shows_secret(spied[0][0], [agent.core.mask.fold(SECRET)]), spied
    monkeypatch.setattr(agent.core.mask, "clears", lambda *args: True)  # a glance trusted whatever it reads
    assert not covered(masked(), secret_pixels(echoed, echo("")))
