"""Ships a finished run under another name in models/: the model file unchanged, its
record renamed and saying what it was trained as, its history figure drawn under the new
name.

Usage: `python tools/ship_run.py bench/results/points/lean8h.keras best`, then
`python tools/ship_run.py ../runs/s31/small31.keras small --rename lean8h=best` for a run
taught by the first (its teacher's file must be the very one shipped as best).
"""

import argparse
from pathlib import Path

from ferkit.cli import headless
from ferkit.errors import exit_on_input_error
from ferkit.shipping import ship


def _rename(text):
    trained, _, shipped = text.partition("=")
    if not trained or not shipped:
        raise argparse.ArgumentTypeError(f"{text!r} is not TRAINED=SHIPPED")
    return trained, shipped


@exit_on_input_error
def main(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("model", help="the run's .keras file, its JSON beside it")
    p.add_argument("name", help="the name it ships under")
    p.add_argument("--models-dir", default="models")
    p.add_argument("--figures-dir", default="figures")
    p.add_argument(
        "--rename",
        type=_rename,
        action="append",
        default=[],
        metavar="TRAINED=SHIPPED",
        help="a run it names (teacher, --init-from) that ships under another name",
    )
    args = p.parse_args(argv)
    record = ship(args.model, args.name, args.models_dir, dict(args.rename))
    from ferkit.plotting import plot_history, plt

    # Titled as the trainer titles it, by the name it ships under.
    fig = plot_history(
        record["history"], title=f"{args.name}: best val {record['val_accuracy']:.3f}"
    )
    Path(args.figures_dir).mkdir(parents=True, exist_ok=True)
    fig.savefig(Path(args.figures_dir) / f"{args.name}_history.png", dpi=100)
    plt.close(fig)
    trained = record["trained_as"]["name"]
    print(f"{args.model} -> {args.models_dir}/{args.name}.keras (trained as {trained})")


if __name__ == "__main__":
    headless()
    main()
