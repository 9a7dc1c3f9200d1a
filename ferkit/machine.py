"""What machine a run or benchmark ran on: the CPU's model name and the matrix-unit
flags that decide its speed (AMX, AVX512-BF16), its cores, any GPU."""

import os
import platform
from pathlib import Path

# CPU flags that change training speed twofold between our machines.
SPEED_FLAGS = {"amx_bf16": "AMX", "avx512_bf16": "AVX512-BF16"}


def cpu_description():
    """e.g. "Intel(R) Xeon(R) Platinum 8488C (AMX, AVX512-BF16)"."""
    name, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                name = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
                break
    except OSError:
        pass
    present = [label for flag, label in SPEED_FLAGS.items() if flag in flags]
    return f"{name} ({', '.join(present) if present else 'no AMX or AVX512-BF16'})"


def describe(devices=None):
    """The machine as a record field."""
    return {
        "cpu": cpu_description(),
        "cores": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        **({"devices": devices} if devices else {}),
    }
