"""Export a saved model to TFLite or a SavedModel. See `python export.py --help`."""

from ferkit.cli import headless
from ferkit.deploy.export_cli import export_main

if __name__ == "__main__":
    headless()
    export_main()
