"""Explain a trained model with figures and numbers. See `python analyze.py --help`."""

from ferkit.analysis.cli import analyze_main
from ferkit.cli import headless

if __name__ == "__main__":
    headless()
    analyze_main()
