"""Average saved runs into one model file. See `python ensemble.py --help`."""

from ferkit.ensemble_cli import ensemble_main

if __name__ == "__main__":
    ensemble_main()
