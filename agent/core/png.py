"""PNG encoding on every core. The screenshot is cut into bands of rows; each band is converted to
RGB straight into the PNG's scanlines and deflated by ISA-L (isal: the same deflate format as zlib,
about 7 times faster than zlib's level 1 on a screenshot) in a thread of its own, both letting go of
the GIL; the bands' deflate streams are joined into the one zlib stream of a single IDAT chunk, as
pigz joins gzip blocks. Scanlines are not filtered: on screens of flat colours and text that is
both faster and smaller than PNG's Sub filter (bench/capture_paths.py)."""

import os
import struct
import threading
import zlib
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
from isal import isal_zlib

SIGNATURE = b"\x89PNG\r\n\x1a\n"
BANDS = max(1, min(4, os.cpu_count() or 1))
ADLER_BASE = 65521
_pool: ThreadPoolExecutor | None = None
# Buffers are kept per image size and reused: fresh ones (12 MB at 1920x1080) are page-faulted in on
# every call, which measured 15 ms a frame against 9 ms reused, between other programs' captures.
_buffers: dict[tuple, np.ndarray] = {}
_lock = threading.Lock()


def encode_png(pixels: np.ndarray) -> bytes:
    """A lossless 8-bit RGB PNG of BGRA or BGR pixels."""
    global _pool
    height, width = pixels.shape[:2]
    to_rgb = cv2.COLOR_BGRA2RGB if pixels.shape[2] == 4 else cv2.COLOR_BGR2RGB
    with _lock:
        rows = _buffer("rows", (height, 1 + width * 3))  # each scanline: its filter type byte, then RGB
        rows[:, 0] = 0  # filter type None
        pixels_of_rows = rows[:, 1:].reshape(height, width, 3)
        cuts = sorted({height * i // BANDS for i in range(BANDS + 1)})
        bands = [(pixels[top:bottom], pixels_of_rows[top:bottom], rows[top:bottom], to_rgb, bottom == height)
                 for top, bottom in zip(cuts, cuts[1:])]
        if len(bands) == 1:
            results = [_deflate_band(*bands[0])]
        else:
            _pool = _pool or ThreadPoolExecutor(BANDS, thread_name_prefix="png")
            results = list(_pool.map(lambda band: _deflate_band(*band), bands))
    checksum = results[0][1]
    for _, adler, length in results[1:]:
        checksum = adler32_combine(checksum, adler, length)
    idat = b"\x78\x01" + b"".join(deflated for deflated, _, _ in results) + struct.pack(">I", checksum)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8 bits per channel, RGB, not interlaced
    return SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def _buffer(name: str, shape: tuple[int, ...]) -> np.ndarray:
    key = (name, shape)
    if key not in _buffers:
        if len(_buffers) >= 8:  # a screen and its half-size image need four; other sizes come and go
            _buffers.clear()
        _buffers[key] = np.empty(shape, np.uint8)
    return _buffers[key]


def _deflate_band(pixels: np.ndarray, rgb: np.ndarray, rows: np.ndarray, to_rgb: int,
                  last: bool) -> tuple[bytes, int, int]:
    """A band's pixels converted into its scanlines (`rgb`, the pixel bytes of `rows`) and deflated as
    a raw stream that the next band's stream can follow; with their Adler-32 and length."""
    cv2.cvtColor(pixels, to_rgb, dst=rgb)
    data = rows.reshape(-1).data
    compressor = isal_zlib.compressobj(1, isal_zlib.DEFLATED, -zlib.MAX_WBITS)
    deflated = compressor.compress(data) + compressor.flush(isal_zlib.Z_FINISH if last else isal_zlib.Z_SYNC_FLUSH)
    return deflated, isal_zlib.adler32(data), rows.nbytes


def adler32_combine(first: int, second: int, second_length: int) -> int:
    """The Adler-32 of two byte strings joined, from theirs (zlib's adler32_combine)."""
    remainder = second_length % ADLER_BASE
    low = ((first & 0xFFFF) + (second & 0xFFFF) + ADLER_BASE - 1) % ADLER_BASE
    high = (remainder * (first & 0xFFFF) + (first >> 16) + (second >> 16) + ADLER_BASE - remainder) % ADLER_BASE
    return high << 16 | low


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
