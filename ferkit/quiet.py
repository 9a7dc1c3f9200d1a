"""Keeping native libraries' start-up chatter off the terminal.

TensorFlow, LiteRT and the TFLite converter print from C++ straight to file descriptors 1
and 2 (banners, "failed call to cuInit" on a machine without a GPU, "Created TensorFlow
Lite XNNPACK delegate"), before or beside any log setting. Their output is caught and
shown only when the call fails, so real errors still reach the user.
"""

import contextlib
import os
import sys
import tempfile


def quiet_native_logs():
    """Quiets TensorFlow's C++ logging unless the user asked for it (before it loads)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _wanted():
    """The user asked to see TensorFlow's logging."""
    return os.environ.get("TF_CPP_MIN_LOG_LEVEL") == "0"


@contextlib.contextmanager
def native_output_caught(fds=(2,)):
    """Runs the block with the given file descriptors sent to a scratch file, replayed
    to stderr if the block raises."""
    if _wanted():
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in fds}
    with tempfile.TemporaryFile() as sink:
        for fd in fds:
            os.dup2(sink.fileno(), fd)
        try:
            yield
        except BaseException:
            _restore(saved)
            sink.seek(0)
            sys.stderr.write(sink.read().decode(errors="replace"))
            raise
        finally:
            _restore(saved)


def _restore(saved):
    sys.stdout.flush()
    sys.stderr.flush()
    for fd, copy in list(saved.items()):
        os.dup2(copy, fd)
        os.close(copy)
        del saved[fd]


def import_tensorflow_quietly():
    """Imports TensorFlow and lets it look for devices with their chatter caught: CUDA
    builds report a missing GPU ("failed call to cuInit") at the first device query,
    after the import, so the query happens here too."""
    if "tensorflow" in sys.modules:
        return
    quiet_native_logs()
    with native_output_caught():
        import tensorflow as tf

        tf.config.list_physical_devices()
