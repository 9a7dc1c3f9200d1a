"""FER+ labels: the reference processing of the votes, and their alignment with the rows."""

import numpy as np
import pytest
from conftest import write_ferplus, write_homework

from ferkit.data import load_data
from ferkit.data.labels import process
from ferkit.errors import InputError

# Our order: angry, disgust, fear, happy, sad, surprise, neutral, contempt, unknown, NF.
ROWS = {
    "clear": [0, 0, 0, 8, 0, 0, 2, 0, 0, 0],  # happy 8 of 10
    "single votes are noise": [1, 1, 1, 6, 1, 0, 0, 0, 0, 0],  # happy 6 of 6 once singles go
    "tie": [0, 0, 0, 5, 0, 0, 5, 0, 0, 0],
    "no majority": [0, 0, 0, 4, 3, 0, 3, 0, 0, 0],
    "unknown": [0, 0, 0, 2, 0, 0, 2, 0, 6, 0],
    "not a face": [0, 0, 0, 0, 0, 0, 0, 0, 0, 10],
}


def test_majority_follows_the_reference_processing():
    labels, dist = process(np.array(list(ROWS.values())), "majority")
    assert labels.tolist() == [3, 3, -1, -1, -1, -1]
    np.testing.assert_allclose(dist[0], np.eye(8)[3])


def test_votes_keep_the_top_emotions():
    labels, dist = process(np.array(list(ROWS.values())), "votes")
    np.testing.assert_allclose(dist[0], np.eye(8)[3])  # 8 of 10 covers 75% alone
    np.testing.assert_allclose(dist[1], np.eye(8)[3])  # the single votes were removed
    np.testing.assert_allclose(dist[2], (np.eye(8)[3] + np.eye(8)[6]) / 2)  # a tie stays
    np.testing.assert_allclose(dist[3], np.array([0, 0, 0, 4, 3, 0, 3, 0]) / 10)
    assert labels.tolist()[:4] == [3, 3, 3, 3] and labels[4] == labels[5] == -1


def test_ferplus_labels_align_by_row(tmp_path):
    write_homework(tmp_path, n_test=20, n_public=10)
    votes = write_ferplus(tmp_path, n_train=70, n_public=10)
    plain = load_data(tmp_path)
    data = load_data(tmp_path, labels="ferplus-majority")
    expected, _ = process(votes, "majority")
    np.testing.assert_array_equal(data.y_train, expected[:70])
    np.testing.assert_array_equal(data.x_train, plain.x_train)
    assert data.test_labels[:10].tolist() == expected[70:].tolist()
    assert (data.test_labels[10:] == -1).all()  # the private half has no FER+ votes here
    assert data.class_names[-1] == "contempt" and len(data.class_names) == 8
    np.testing.assert_array_equal(data.split_labels, plain.y_train)
    votes_data = load_data(tmp_path, labels="ferplus-votes")
    np.testing.assert_allclose(votes_data.soft_train.sum(axis=1)[votes_data.y_train >= 0], 1)
    assert data.fingerprint == plain.fingerprint  # the same faces


def test_a_ferplus_file_of_other_rows_is_refused(tmp_path):
    write_homework(tmp_path)
    write_ferplus(tmp_path, n_train=60)
    with pytest.raises(InputError, match="has 60 Training rows, the data 70 training faces"):
        load_data(tmp_path, labels="ferplus-majority")
    (tmp_path / "fer2013new.csv").unlink()
    with pytest.raises(InputError, match="no FER\\+ labels"):
        load_data(tmp_path, labels="ferplus-votes")
