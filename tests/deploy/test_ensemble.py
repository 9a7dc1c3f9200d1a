"""ensemble.py: saved runs averaged into one model file that every consumer can use."""

import json

import numpy as np
import pytest
from conftest import write_homework

from ferkit.augment import trained_with
from ferkit.data import load_data
from ferkit.deploy.ensemble_cli import ensemble_main
from ferkit.deploy.predict_cli import predict_main
from ferkit.evaluate import predict_probs
from ferkit.report import results_table
from ferkit.runs import load_model
from ferkit.train.cli import train_main


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two one-epoch runs on the same split, and one on another split."""
    root = tmp_path_factory.mktemp("ens")
    arrays = write_homework(root / "d")
    common = ["--data", str(root / "d"), "--epochs", "1", "--models-dir", str(root / "m")]
    common += ["--figures-dir", str(root / "f")]
    train_main("cnn", common + ["--name", "a"])
    train_main("cnn", common + ["--name", "b", "--model", "fast", "--augment", "flip,shift"])
    train_main("cnn", common + ["--name", "c", "--seed", "1"])
    return root, arrays


@pytest.mark.slow
def test_ensemble_averages_its_members_and_feeds_predict(runs, capsys):
    root, arrays = runs
    m = root / "m"
    record = ensemble_main(
        [str(m / "a.keras"), str(m / "b.keras"), "--name", "ab"]
        + ["--data", str(root / "d"), "--models-dir", str(m)]
    )
    faces = arrays["x"].reshape(-1, 48, 48, 1).astype(np.uint8)
    members = [predict_probs(load_model(m / f"{n}.keras"), faces) for n in "ab"]
    ensemble = load_model(m / "ab.keras")
    # The mean of the members' logits: their geometric mean probability, renormalised.
    geometric = np.exp(np.mean(np.log(np.asarray(members, np.float64)), 0))
    geometric /= geometric.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(predict_probs(ensemble, faces), geometric, atol=1e-5)
    assert trained_with(ensemble, "shift") and not trained_with(load_model(m / "a.keras"), "shift")

    saved = json.loads((m / "ab.json").read_text())
    assert saved == json.loads(json.dumps(record))
    assert [r["name"] for r in saved["members"]] == ["a", "b"]
    # The ensemble cost what its members cost to train.
    assert saved["lineage"]["runs"] == ["ab", "a", "b"]
    members = sum(json.loads((m / f"{n}.json").read_text())["training_seconds"] for n in "ab")
    assert saved["lineage"]["hours"] == pytest.approx(members / 3600, abs=0.01)
    data = load_data(root / "d")
    public = predict_probs(ensemble, data.x_test[data.public]).argmax(1)
    assert saved["public_accuracy"] == pytest.approx(np.mean(public == arrays["public"]))
    public_tta = predict_probs(ensemble, data.x_test[data.public], tta=True).argmax(1)
    assert saved["tta"]["public_accuracy"] == pytest.approx(np.mean(public_tta == arrays["public"]))
    assert "ab | ensemble | ensemble" in results_table([m / "ab.json"])
    from ferkit.cards import card

    text = card(saved, m)
    assert "- members: a (cnn, validation accuracy" in text and ", b (fast," in text
    assert "python ensemble.py" in text and "best epoch" not in text

    capsys.readouterr()
    out = root / "s.csv"
    predict_main(["--model", str(m / "ab.keras"), "--data", str(root / "d"), "--out", str(out)])
    predict_main(["--model", str(m / "ab.keras"), "--data", str(root / "d"), "--tta"])
    assert len(out.read_text().splitlines()) == 21
    assert capsys.readouterr().out.count("public accuracy") == 2


def test_members_on_other_splits_are_refused(runs, capsys):
    root, _ = runs
    m = root / "m"
    with pytest.raises(SystemExit) as exit_info:
        ensemble_main(
            [str(m / "a.keras"), str(m / "c.keras"), "--data", str(root / "d")]
            + ["--models-dir", str(m), "--name", "ac"]
        )
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "c.keras" in err[0] and "validation split" in err[0]
    assert not (m / "ac.keras").exists()


def test_an_ensemble_is_calibrated_like_any_run(runs):
    from ferkit.calibration import temperature_of
    from ferkit.train.calibrate_cli import calibrate_saved

    root, _ = runs
    m = root / "m"
    argv = [str(m / "a.keras"), str(m / "b.keras"), "--data", str(root / "d")]
    ensemble_main(argv + ["--name", "cal", "--models-dir", str(m)])
    before = predict_probs(load_model(m / "cal.keras"), load_data(root / "d").x_test)
    record = calibrate_saved(m / "cal.keras", load_data(root / "d"))
    calibrated = load_model(m / "cal.keras")
    temperature = record["calibration"]["temperature"]
    assert temperature_of(calibrated) == pytest.approx(temperature)
    after = predict_probs(calibrated, load_data(root / "d").x_test)
    # The temperature rescales the averaged logits: the same labels, other confidences.
    np.testing.assert_array_equal(after.argmax(1), before.argmax(1))
    expected = np.exp(np.log(before.astype(np.float64)) / temperature)
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(after, expected, atol=1e-4)
