"""Fast, strict parsing of the FER CSV layout: an integer key column, then 2304 pixels.

The file is decompressed in the main thread while worker threads parse finished blocks
of lines with NumPy (zlib and ``np.fromstring`` both release the GIL). Every block is
checked for shape; if anything looks wrong, a line-by-line pass names the first bad line.
"""

import os
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ferkit import NUM_PIXELS
from ferkit.errors import InputError

_BLOCK_BYTES = 16 << 20


def read_raw(path):
    """Returns the file's bytes, or raises InputError naming what is wrong."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except IsADirectoryError:
        raise InputError(path, "is a directory, expected a CSV file") from None
    except OSError as err:
        raise InputError(path, f"cannot read: {err.strerror}") from None
    if not raw:
        raise InputError(path, "file is empty")
    return raw


def decompressed_chunks(path, raw):
    """Yields the file's text in chunks, gunzipping by magic number."""
    if not raw.startswith(b"\x1f\x8b"):
        yield raw
        return
    data = raw
    try:
        while data:
            d = zlib.decompressobj(wbits=31)
            for i in range(0, len(data), _BLOCK_BYTES // 4):
                out = d.decompress(data[i : i + _BLOCK_BYTES // 4])
                if out:
                    yield out
                if d.eof:
                    break
            if not d.eof:
                raise InputError(path, "truncated gzip file")
            yield d.flush()
            data = d.unused_data  # concatenated gzip members are valid gzip
    except zlib.error:
        raise InputError(path, "corrupt gzip file") from None


def read_text(path):
    """Returns (raw bytes, whole decompressed text)."""
    raw = read_raw(path)
    return raw, b"".join(decompressed_chunks(path, raw))


BOM = b"\xef\xbb\xbf"  # what a spreadsheet's "CSV UTF-8" puts before the header


def header_columns(line):
    """The column names of a header line, as pandas reads them: without a UTF-8
    byte-order mark, surrounding spaces or quotes."""
    if line.startswith(BOM):
        line = line[len(BOM) :]
    text = line.decode("ascii", "replace").strip()
    return [c.strip().strip('"').strip() for c in text.split(",")]


def check_columns(path, names, expected):
    """Raises a one-line error unless the header is exactly `expected`."""
    if names == list(expected):
        return
    missing = [c for c in expected if c not in names]
    extra = [c for c in names if c not in expected]
    parts = []
    if missing:
        parts.append("missing column(s) " + ", ".join(missing))
    if extra:
        parts.append("unexpected column(s) " + ", ".join(extra))
    if not parts:
        parts.append("columns out of order")
    found, want = ",".join(names), ",".join(expected)
    raise InputError(path, f"{'; '.join(parts)} (header '{found}', expected '{want}')", 1)


def body_lines(path, text, columns):
    """The data lines of a small CSV whose header must be `columns`; trailing blank lines
    are dropped and a file without data rows is an InputError."""
    lines = _unquoted(text.replace(b"\r\n", b"\n")).split(b"\n")
    check_columns(path, header_columns(lines[0]), columns)
    body = lines[1:]
    while body and not body[-1].strip():
        body.pop()
    if not body:
        raise InputError(path, "no data rows after the header")
    return body


def read_key_pixel_csv(path, columns, raw=None, chunks=None):
    """Reads a CSV with header `columns` (key, pixels).

    Args:
        path: the file, named in error messages.
        columns: the expected header, e.g. ("label", "feature").
        raw: the file's bytes, if already read.
        chunks: the decompressed text in pieces, if already available.

    Returns:
        (keys int64 (n,), pixels uint8 (n, 2304)).
    """
    if chunks is None:
        chunks = decompressed_chunks(path, read_raw(path) if raw is None else raw)
    header, blocks = None, []
    pending = b""
    workers = os.cpu_count() or 1
    with ThreadPoolExecutor(workers) as pool:
        for chunk in chunks:
            data = pending + chunk
            if header is None:
                end = data.find(b"\n")
                if end < 0:
                    pending = data
                    continue
                header, data = data[:end], data[end + 1 :]
                check_columns(path, header_columns(header), columns)
            cut = data.rfind(b"\n")
            if cut < 0:
                pending = data
                continue
            block, pending = _normalise(data[: cut + 1]), data[cut + 1 :]
            if block:
                blocks.append((block, pool.submit(_parse_block, block)))
        if header is None:
            check_columns(path, header_columns(pending), columns)
            pending = b""
        tail = _normalise(pending + b"\n") if pending.strip() else b""
        if tail:
            blocks.append((tail, pool.submit(_parse_block, tail)))
        results = [f.result() for _, f in blocks]
    if not blocks:
        raise InputError(path, "no data rows after the header")
    if any(r is None for r in results):
        lines = b"\n".join(b for b, _ in blocks).split(b"\n")
        _raise_first_bad_line(path, lines, columns[0])
        results = [_parse_slow(lines)]
    keys = np.concatenate([k for k, _ in results])
    pixels = np.concatenate([p for _, p in results])
    bad = np.flatnonzero((pixels < 0) | (pixels > 255))
    if bad.size:
        row, col = divmod(int(bad[0]), NUM_PIXELS)
        value = pixels[row, col]
        raise InputError(path, f"pixel {col + 1} is {value}, outside 0-255", row + 2)
    return keys, pixels.astype(np.uint8)


def _unquoted(text):
    """text without the double quotes a spreadsheet may put around fields (pandas reads
    `"0","1 2 3"` as `0,1 2 3`); no field of these files holds a comma or a quote."""
    return text.replace(b'"', b"") if b'"' in text else text


def _normalise(block):
    """CRLF to LF, quotes removed; drops the final newline and any blank lines after it
    (pandas skips trailing blank lines)."""
    if b"\r" in block:
        block = block.replace(b"\r\n", b"\n")
    return _unquoted(block).rstrip(b" \t\r\n")


def _parse_block(block):
    """Parses `KEY,P P ... P` lines; None when the block is not exactly that shape."""
    a = np.frombuffer(block, np.uint8)
    newlines = np.flatnonzero(a == 10)
    commas = np.flatnonzero(a == 44)
    n = newlines.size + 1
    starts = np.concatenate(([0], newlines + 1))
    ends = np.concatenate((newlines, [a.size]))
    if commas.size != n or np.any(commas < starts) or np.any(commas >= ends):
        return None
    try:
        keys = np.array([int(block[s:e]) for s, e in zip(starts, commas)], dtype=np.int64)
    except ValueError:
        return None
    # NumPy stops early on a bad token (with a DeprecationWarning, an error where warnings
    # are errors), so the count below catches it. warnings.catch_warnings is not used:
    # these blocks parse in threads, and interleaved catch_warnings can leave the
    # process's filters set to "error" for good.
    try:
        # uint16 parses fastest among types wide enough to see values > 255.
        values = np.fromstring(block.replace(b",", b" "), dtype=np.uint16, sep=" ")
    except (ValueError, DeprecationWarning):
        return None
    if values.size != n * (NUM_PIXELS + 1):
        return None
    pixels = values.reshape(n, NUM_PIXELS + 1)[:, 1:]
    # A line's length must equal its digits plus separators. This catches lines with
    # missing/extra tokens that cancel out elsewhere, and uint16 wrap-around above
    # 65535 (a wrapped value prints with fewer digits).
    digits = NUM_PIXELS + sum(np.count_nonzero(pixels >= 10**k, axis=1) for k in (1, 2, 3, 4))
    expected = (commas - starts) + 1 + digits + NUM_PIXELS - 1
    if not np.array_equal(ends - starts, expected):
        return None
    return keys, pixels


def _raise_first_bad_line(path, lines, key_name):
    for i, line in enumerate(lines):
        lineno = i + 2
        text = line.decode("ascii", "replace").strip()
        if not text:
            raise InputError(path, "empty line", lineno)
        fields = text.split(",")
        if len(fields) != 2:
            raise InputError(path, f"expected 2 fields, found {len(fields)}", lineno)
        key, pixels = fields[0].strip(), fields[1].split()
        if not is_int(key):
            raise InputError(path, f"{key_name} '{key}' is not an integer", lineno)
        if len(pixels) != NUM_PIXELS:
            raise InputError(path, f"expected {NUM_PIXELS} pixels, found {len(pixels)}", lineno)
        for j, tok in enumerate(pixels):
            if not is_int(tok):
                raise InputError(path, f"pixel {j + 1} '{tok}' is not an integer", lineno)


def _parse_slow(lines):
    rows = [ln.decode("ascii").split(",") for ln in lines]
    keys = np.array([int(r[0]) for r in rows], dtype=np.int64)
    pixels = np.array([r[1].split() for r in rows], dtype=np.int64)
    return keys, pixels


def is_int(token):
    """True for an optionally negative ASCII integer."""
    return token.isascii() and token.lstrip("-").isdigit()
