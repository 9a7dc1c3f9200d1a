"""Calibrate saved runs on their validation faces. See `python calibrate.py --help`."""

from ferkit.cli import headless
from ferkit.train.calibrate_cli import calibrate_main

if __name__ == "__main__":
    headless()
    calibrate_main()
