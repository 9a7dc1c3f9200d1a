"""The FER+ relabelling (Barsoum et al. 2016, github.com/microsoft/FERPlus): ten
annotators' votes for every FER2013 face, over eight emotions plus "unknown" and "not a
face", in `fer2013new.csv`, one row per `fer2013.csv` row in file order (Training, then
PublicTest, then PrivateTest).

The votes are processed as the FERPlus reference code does (`_process_data`): a single
vote is noise and is removed; `majority` keeps a face whose top emotion has more than half
of the remaining votes (so ties are dropped), `votes` keeps the distribution over the top
emotions that cover 75% of the votes; faces whose result is unknown or not-a-face are
dropped.
"""

import dataclasses
import hashlib
from pathlib import Path

import numpy as np

from ferkit import FERPLUS_CLASS_NAMES
from ferkit.data.csvio import body_lines, is_int, read_text
from ferkit.errors import InputError

FERPLUS_NAME = "fer2013new.csv"
FERPLUS_CLASSES = FERPLUS_CLASS_NAMES
LABEL_MODES = ("fer2013", "ferplus-majority", "ferplus-votes")
# fer2013new.csv's vote columns, in the file's order, and each one's index in
# FERPLUS_CLASSES (8: unknown, 9: not a face).
_COLUMNS = ("Usage", "Image name", "neutral", "happiness", "surprise", "sadness", "anger")
_COLUMNS += ("disgust", "fear", "contempt", "unknown", "NF")
_TO_OURS = [6, 3, 5, 4, 0, 1, 2, 7, 8, 9]
USAGES = ("Training", "PublicTest", "PrivateTest")


def read_ferplus(path):
    """(votes int (n, 10) in FERPLUS_CLASSES order then unknown and not-a-face, usage
    index (n,)) of a fer2013new.csv."""
    _, text = read_text(path)
    body = body_lines(path, text, _COLUMNS)
    votes = np.zeros((len(body), 10), np.int64)
    usage = np.zeros(len(body), np.int64)
    for i, line in enumerate(body):
        fields = line.decode("ascii", "replace").split(",")
        if len(fields) != len(_COLUMNS):
            raise InputError(path, f"expected {len(_COLUMNS)} fields, found {len(fields)}", i + 2)
        if fields[0].strip() not in USAGES:
            raise InputError(path, f"Usage '{fields[0]}' is not one of {', '.join(USAGES)}", i + 2)
        usage[i] = USAGES.index(fields[0].strip())
        for j, value in enumerate(fields[2:]):
            value = value.strip()
            if not is_int(value) or int(value) < 0:
                raise InputError(path, f"{_COLUMNS[j + 2]} '{value}' is not a vote count", i + 2)
            votes[i, _TO_OURS[j]] = int(value)
    return votes, usage


def process(votes, mode):
    """The FERPlus reference processing of vote rows (n, 10).

    Returns:
        (labels int (n,), -1 for a dropped face; distributions float (n, 8), zero rows for
        dropped faces), under mode "majority" or "votes".
    """
    raw = np.asarray(votes, np.float64).copy()
    raw[raw <= 1.0] = 0.0  # a single vote is noise
    total = raw.sum(axis=1)
    out = np.zeros_like(raw)
    for i, row in enumerate(raw):
        out[i] = _majority(row, total[i]) if mode == "majority" else _top_votes(row, total[i])
    keep = (out.sum(axis=1) > 0) & (out.argmax(axis=1) < 8)
    labels = np.where(keep, out.argmax(axis=1), -1)
    dist = np.zeros((len(raw), 8))
    dist[keep] = out[keep, :8] / out[keep, :8].sum(axis=1, keepdims=True)
    return labels, dist


def _majority(row, total):
    out = np.zeros_like(row)
    if total > 0 and row.max() > 0.5 * total:
        out[row.argmax()] = row.max()
    return out  # all zero: unknown, dropped


def _top_votes(row, total):
    """The reference's 'crossentropy' mode: the top emotions up to 75% of the votes, at
    most three; unknown or not-a-face among them ends the list."""
    row, out = row.copy(), np.zeros_like(row)
    covered, count, valid = 0.0, 0, True
    while total > 0 and covered < 0.75 * total and count < 3 and valid:
        top = row.max()
        for i in range(len(row)):
            if row[i] == top:
                out[i], row[i] = top, 0.0
                covered += top
                count += 1
                if i >= 8:
                    valid = False
                    if out.sum() > top:  # other emotions came before unknown/not-a-face
                        out[i] = 0.0
                        count -= 1
                    break
    if out.sum() <= 0.5 * total or count > 3:
        return np.zeros_like(out)
    return out


def ferplus_file(data, given=None):
    """The FER+ file: `given`, else the one data's labels came from, else fer2013new.csv
    beside the data."""
    source = Path(data.source)
    beside = (source if source.is_dir() else source.parent) / FERPLUS_NAME
    path = Path(given or data.label_path or beside)
    if not path.exists():
        raise InputError(
            path,
            "no FER+ labels: put fer2013new.csv (github.com/microsoft/FERPlus) beside the data "
            "or give --ferplus PATH",
        )
    return path


def scored_for(data, n_classes, given=None):
    """data with the labels a model of n_classes outputs is scored against: FER2013's
    for seven, the FER+ majority for eight (contempt included)."""
    if n_classes == len(FERPLUS_CLASSES) and data.labels == "fer2013":
        return with_ferplus_labels(data, "ferplus-majority", given)
    return data


def with_ferplus_labels(data, mode, given=None):
    """data relabelled by FER+ (mode "ferplus-majority" or "ferplus-votes"): eight
    classes; training faces without a label under the mode keep -1 and are left out of
    training; the test faces carry the FER+ majority where it exists."""
    if mode not in LABEL_MODES[1:]:
        raise ValueError(f"unknown label mode {mode!r}; use one of {', '.join(LABEL_MODES)}")
    if data.labelled_part != "public":
        raise InputError(data.source, "FER+ labels follow fer2013.csv's row order; use the CSVs")
    path = ferplus_file(data, given)
    votes, usage = read_ferplus(path)
    if np.any(np.diff(usage) < 0):
        raise InputError(
            path, "rows are not in fer2013.csv's order (Training, PublicTest, PrivateTest)"
        )
    train = usage == 0
    if train.sum() != data.y_train.size:
        raise InputError(
            path, f"has {train.sum()} Training rows, the data {data.y_train.size} training faces"
        )
    labels, dist = process(votes, "majority" if mode == "ferplus-majority" else "votes")
    majority, _ = process(votes, "majority")
    test_votes = majority[~train]  # PublicTest then PrivateTest, as the test ids run
    test_labels = np.full(data.test_ids.shape, -1, np.int64)
    known = data.test_ids < test_votes.size
    test_labels[known] = test_votes[data.test_ids[known]]
    return dataclasses.replace(
        data,
        y_train=labels[train],
        test_labels=test_labels,
        public=data.public & (test_labels >= 0),
        class_names=FERPLUS_CLASSES,
        labels=mode,
        split_labels=data.y_train,
        soft_train=dist[train] if mode == "ferplus-votes" else None,
        label_files={path.name: hashlib.sha256(path.read_bytes()).hexdigest()},
        label_path=str(path),
    )
