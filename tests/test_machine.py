"""The machine a record names: a CPU without a model number is told apart by its family
and model numbers."""

import pytest

from ferkit import machine


@pytest.mark.parametrize(
    "name,generation,cap,expected",
    [
        ("AMD EPYC", (26, 2), None, "AMD EPYC family 26 model 2 (AVX512-BF16)"),
        (
            "AMD EPYC",
            (25, 17),
            "AVX2",
            "AMD EPYC family 25 model 17 (AVX512-BF16; oneDNN capped at AVX2)",
        ),
        # A model number says the generation already.
        (
            "Intel(R) Xeon(R) Platinum 8488C",
            (6, 143),
            None,
            "Intel(R) Xeon(R) Platinum 8488C (AVX512-BF16)",
        ),
        ("AMD EPYC", None, None, "AMD EPYC (AVX512-BF16)"),
    ],
)
def test_a_cpu_is_described_by_its_name_generation_and_flags(
    monkeypatch, name, generation, cap, expected
):
    monkeypatch.setattr(machine, "cpu_info", lambda: (name, frozenset({"avx512_bf16"})))
    monkeypatch.setattr(machine, "cpu_generation", lambda: generation)
    if cap:
        monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", cap)
    else:
        monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    assert machine.cpu_description() == expected
