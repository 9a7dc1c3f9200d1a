"""Average saved runs into one model file. See `python ensemble.py --help`."""

from ferkit.cli import headless
from ferkit.deploy.ensemble_cli import ensemble_main

if __name__ == "__main__":
    headless()
    ensemble_main()
