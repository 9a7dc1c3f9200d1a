"""--precision auto: bfloat16 only where the device computes it natively, said once, and
recorded; inference in float32 where bfloat16 would be emulated."""

import json

import numpy as np
import pytest

from ferkit import machine, precision
from ferkit.train.cli import train_main
from ferkit.train.recipes import FLOAT32

AVX512_BF16 = frozenset({"avx2", "avx512f", "avx512_bf16"})
AVX2 = frozenset({"avx2", "fma"})


@pytest.fixture
def cpu(monkeypatch):
    """Sets the CPU's flags and the oneDNN cap the machine module sees, and undoes the
    tests' own float32 default (conftest) so that the real decision runs."""

    def set_cpu(flags, cap=None):
        monkeypatch.setattr(machine, "cpu_info", lambda: ("Test CPU", flags))
        if cap:
            monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", cap)
        else:
            monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
        monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
        monkeypatch.setattr(precision, "_gpus", lambda: [])
        monkeypatch.setattr(precision, "native_bfloat16", lambda: machine.native_bfloat16_cpu())

    return set_cpu


@pytest.mark.parametrize(
    "flags,cap,native",
    [
        (AVX512_BF16, None, True),
        (frozenset({"amx_bf16", "amx_tile"}), None, True),
        (AVX2, None, False),
        # oneDNN capped below its bfloat16 instructions emulates a CPU without them.
        (AVX512_BF16, "AVX2", False),
        (AVX512_BF16, "avx512_core", False),
        (AVX512_BF16, "AVX512_CORE_BF16", True),
    ],
)
def test_native_bfloat16_follows_the_flags_and_the_cap(cpu, flags, cap, native):
    cpu(flags, cap)
    assert machine.native_bfloat16_cpu() is native


def test_auto_picks_bfloat16_only_where_it_is_native(cpu):
    cpu(AVX512_BF16)
    choice = precision.choose_precision("auto")
    assert choice.used == "bfloat16" and choice.native_bfloat16
    assert choice.line == "precision: bfloat16 (this CPU computes it natively: AVX512-BF16)"
    cpu(AVX2)
    choice = precision.choose_precision("auto")
    assert choice.used == "float32" and not choice.native_bfloat16
    assert choice.line == "precision: float32 (this CPU has no native bfloat16)"
    assert precision.choose_precision("float32").used == "float32"


def test_bfloat16_asked_on_an_emulating_cpu_runs_with_a_warning(cpu):
    cpu(AVX2)
    choice = precision.choose_precision("bfloat16")
    assert choice.used == "bfloat16"
    assert "warning" in choice.line and "10x slower" in choice.line
    cpu(AVX512_BF16)
    assert "warning" not in precision.choose_precision("bfloat16").line


def test_a_run_says_and_records_what_auto_chose(cpu, homework, tmp_path, capsys):
    from ferkit.cards import card

    cpu(AVX2)
    folder, _ = homework
    argv = ["--data", str(folder), "--epochs", "1", "--models-dir", str(tmp_path / "m")]
    train_main("cnn", [*argv, "--figures-dir", str(tmp_path / "f"), "--recipe", "fast"])
    assert "precision: float32 (this CPU has no native bfloat16)" in capsys.readouterr().out
    record = json.loads((tmp_path / "m" / "fast.json").read_text())
    assert record["precision"] == {"asked": "auto", "used": "float32", "native_bfloat16": False}
    assert record["config"]["precision"] == "auto" and "float32" not in record
    # The fast recipe's float32 settings: only the epochs asked differ from the recipe.
    assert record["config"]["batch_size"] == FLOAT32["fast"]["batch_size"]
    assert record["recipe_changes"] == {"epochs": 1}
    text = card(record, tmp_path / "m")
    assert "trained in float32 (`--precision auto` chose it on" in text
    assert "--precision" not in text.split("**How it was trained**")[1].split("\n")[0]


def test_an_explicit_bfloat16_run_warns_on_stderr_and_is_named_in_its_card(
    cpu, homework, tmp_path, capsys
):
    from ferkit.cards import train_command

    cpu(AVX2)
    folder, _ = homework
    argv = ["--data", str(folder), "--epochs", "1", "--models-dir", str(tmp_path / "m")]
    argv += ["--figures-dir", str(tmp_path / "f"), "--precision", "bfloat16", "--limit", "28"]
    train_main("cnn", argv)
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "warning: bfloat16 is emulated here" in warnings[0]
    record = json.loads((tmp_path / "m" / "cnn.json").read_text())
    assert record["precision"]["used"] == "bfloat16"
    # Its accuracies in float32 too, which every CPU reproduces.
    assert set(record["float32"]) == {"val_accuracy", "public_accuracy", "tta_val_accuracy"}
    assert "--precision bfloat16" in train_command(record)


@pytest.mark.parametrize("name", ["fast", "dnn", "strong"])
def test_records_made_before_auto_name_their_precision(name):
    """Their commands were rebuilt from their settings (tools/upgrade_records_v3.py) with
    the precision they ran in, since the recipes' default no longer fixes it."""
    from conftest import ROOT

    from ferkit.cards import train_command

    record = json.loads((ROOT / "models" / f"{name}.json").read_text())
    assert "precision" not in record  # trained before auto
    ran = record["config"]["precision"]
    assert f"--precision {ran}" in train_command(record) == record["command"]


def test_inference_runs_in_float32_where_bfloat16_is_emulated(cpu):
    from ferkit.evaluate import predict_probs
    from ferkit.models import build_cnn

    with precision.dtype_policy("bfloat16"):
        model = build_cnn()
    faces = np.random.default_rng(0).integers(0, 256, (8, 48, 48, 1)).astype(np.uint8)
    cpu(AVX512_BF16)
    assert precision.inference_model(model) is model
    cpu(AVX2)
    copy = precision.inference_model(model)
    assert copy is not model and precision.mixed_precision(copy) is None
    assert precision.inference_model(model) is copy  # made once
    expected = np.asarray(precision.float32_copy(model)(faces.astype("float32")))
    np.testing.assert_allclose(predict_probs(model, faces), expected, atol=1e-6)
