"""Shared by the bench scripts: print a result and keep it in bench/results/."""

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def publish(name, lines):
    """Prints the lines and writes them to bench/results/NAME.md."""
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.md").write_text(text)
