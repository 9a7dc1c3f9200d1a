"""Binary cache of parsed CSVs, keyed by the source file's content hash."""

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np

FORMAT = 1  # bump when the parsed representation changes


def cache_dirs(source):
    """Beside the data when its folder is writable, then the user's cache folder."""
    user = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ferkit"
    folder = Path(source).parent
    dirs = [user]
    if _writable(folder):
        dirs.insert(0, folder / ".ferkit_cache")
    return dirs


def _writable(folder):
    # Root passes os.access everywhere; a folder marked read-only is honoured anyway.
    try:
        return os.access(folder, os.W_OK) and bool(folder.stat().st_mode & 0o222)
    except OSError:
        return False


def cached(source, digest, compute, with_checksum=False):
    """Returns compute()'s (keys, pixels), from the cache when a valid entry exists; with
    `with_checksum`, also the sha256 of their content (computed once either way)."""
    name = f"{Path(source).name}.{digest[:32]}.v{FORMAT}.npz"
    for folder in cache_dirs(source):
        hit = _load(folder / name)
        if hit is not None:
            return hit if with_checksum else hit[:2]
    keys, pixels = compute()
    checksum = checksum_of(keys, pixels)
    for folder in cache_dirs(source):
        if _save(folder / name, (keys, pixels), checksum):
            break
    return (keys, pixels, checksum) if with_checksum else (keys, pixels)


def checksum_of(keys, pixels):
    h = hashlib.sha256(np.ascontiguousarray(keys).tobytes())
    h.update(np.ascontiguousarray(pixels).tobytes())
    return h.hexdigest()


def _load(path):
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            keys, pixels, checksum = z["keys"], z["pixels"], str(z["checksum"])
        if checksum_of(keys, pixels) == checksum:
            return keys, pixels, checksum
    except Exception:  # noqa: BLE001 - any unreadable cache is simply rebuilt
        pass
    try:
        path.unlink()
    except OSError:
        pass
    return None


def _save(path, result, checksum):
    keys, pixels = result
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    except OSError:
        return False
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, keys=keys, pixels=pixels, checksum=np.array(checksum))
        os.replace(tmp, path)
        return True
    except OSError:
        Path(tmp).unlink(missing_ok=True)
        return False
