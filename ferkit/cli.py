"""The flags every entry script shares, and its argparse parser."""

import argparse

from ferkit.data import default_data_path


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
