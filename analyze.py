"""Explain a trained model with figures and numbers. See `python analyze.py --help`."""

from ferkit.analysis.cli import analyze_main

if __name__ == "__main__":
    analyze_main()
