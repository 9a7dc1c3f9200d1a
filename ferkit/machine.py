"""What machine a run or benchmark ran on: the CPU's model name and the matrix-unit
flags that decide its speed (AMX, AVX512-BF16), its cores, any GPU; and whether it
computes bfloat16 natively."""

import functools
import os
import platform
from pathlib import Path

# CPU flags that change training speed twofold between our machines, and with which
# oneDNN computes bfloat16 natively: without either it emulates it, ten times slower
# than float32 (bench/RESULTS.md, the throughput table of an AVX2-only CPU).
SPEED_FLAGS = {"amx_bf16": "AMX", "avx512_bf16": "AVX512-BF16"}
# oneDNN's ISA caps (ONEDNN_MAX_CPU_ISA) that still allow native bfloat16 instructions.
BF16_ISAS = {
    "ALL",
    "AVX512_CORE_BF16",
    "AVX512_CORE_FP16",
    "AVX10_1_512",
    "AVX512_CORE_AMX",
    "AVX10_1_512_AMX",
    "AVX512_CORE_AMX_FP16",
    "AVX10_1_512_AMX_FP16",
}


@functools.cache
def _first_cpu():
    """{field: value} of the first CPU in /proc/cpuinfo (up to its flags); {} elsewhere."""
    fields = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
            if key.strip() in ("flags", "Features"):
                break
    except OSError:
        pass
    return fields


def cpu_info():
    """(model name, set of flags) of the first CPU in /proc/cpuinfo; elsewhere the
    platform's processor name and no flags."""
    fields = _first_cpu()
    name = fields.get("model name") or platform.processor() or platform.machine()
    return name, frozenset((fields.get("flags") or fields.get("Features") or "").split())


def cpu_generation():
    """(family, model) numbers of the first CPU in /proc/cpuinfo; None elsewhere."""
    family, model = _first_cpu().get("cpu family", ""), _first_cpu().get("model", "")
    return (int(family), int(model)) if family.isdigit() and model.isdigit() else None


def cpu_name():
    """The CPU's model name; where it has no model number, as virtual machines often show
    ("AMD EPYC"), with its family and model numbers, which tell its generations apart:
    two EPYCs named alike trained the same recipe 2.6 times apart."""
    name = cpu_info()[0]
    generation = cpu_generation()
    if generation is None or any(c.isdigit() for c in name):
        return name
    return f"{name} family {generation[0]} model {generation[1]}"


def speed_flags():
    """The bfloat16 matrix-unit flags this CPU has, by their usual names."""
    flags = cpu_info()[1]
    return [label for flag, label in SPEED_FLAGS.items() if flag in flags]


def isa_cap():
    """oneDNN's instruction-set cap, when one is set (it emulates a smaller CPU)."""
    cap = os.environ.get("ONEDNN_MAX_CPU_ISA", "").strip().upper()
    return cap or None


def native_bfloat16_cpu():
    """Whether this CPU computes bfloat16 natively (AMX or AVX512-BF16, not capped away
    by ONEDNN_MAX_CPU_ISA, with TensorFlow's oneDNN kernels on)."""
    if not speed_flags() or os.environ.get("TF_ENABLE_ONEDNN_OPTS") == "0":
        return False
    return isa_cap() in (None, *BF16_ISAS)


def cpu_description():
    """e.g. "Intel(R) Xeon(R) Platinum 8488C (AMX, AVX512-BF16)", or with a oneDNN cap
    "AMD EPYC family 26 model 2 (AVX512-BF16; oneDNN capped at AVX2)"."""
    present = speed_flags()
    text = ", ".join(present) if present else "no AMX or AVX512-BF16"
    if cap := isa_cap():
        text += f"; oneDNN capped at {cap}"
    return f"{cpu_name()} ({text})"


def cores():
    """The cores this process may run on (a container or taskset may allow fewer than
    the machine has)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def describe(devices=None):
    """The machine as a record field."""
    return {
        "cpu": cpu_description(),
        "cores": cores(),
        **({"devices": devices} if devices else {}),
    }
