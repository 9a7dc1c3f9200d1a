"""The flags every entry script shares, its argparse parser, and the command line a
record keeps."""

import argparse
import os
import shlex
import sys

import matplotlib

from ferkit.data import default_data_path
from ferkit.quiet import quiet_native_logs


def headless():
    """What every entry script sets first: matplotlib's file-only backend (figures are
    saved, never shown, so no display is needed) and TensorFlow's C++ logging quiet
    unless the user asked for it."""
    matplotlib.use("Agg")
    quiet_native_logs()


def parser(description):
    return argparse.ArgumentParser(
        description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )


def add_data_arg(p):
    p.add_argument(
        "--data",
        default=default_data_path(),
        help="homework folder (train.csv[.gz], test.csv[.gz], public_labels.csv) "
        "or Kaggle fer2013.csv[.gz]; default $FER_DATA or data/",
    )


def command_line(script, argv=None):
    """The command that ran, as a record keeps it: `python SCRIPT` and the arguments as
    given (sys.argv's when argv is None), with absolute paths made relative to the
    working directory, so that a record names no path of the machine it was made on."""
    args = sys.argv[1:] if argv is None else list(argv)
    return shlex.join(["python", script, *map(_portable, args)])


def _portable(arg):
    flag, eq, value = arg.partition("=") if arg.startswith("--") else ("", "", arg)
    if not eq:
        flag, value = "", arg
    return flag + eq + (os.path.relpath(value) if os.path.isabs(value) else value)
