"""FERKIT_MAX_STEPS: one cap on every loop that takes steps, so that any test of a
command line runs in seconds on the real data. It caps gradient ascent's steps, the
training steps of an epoch, and the faces a run is scored on (that many batches)."""

import os

MAX_STEPS_ENV = "FERKIT_MAX_STEPS"


def max_steps():
    """The cap $FERKIT_MAX_STEPS sets, or None."""
    cap = os.environ.get(MAX_STEPS_ENV)
    return int(cap) if cap else None


def capped(steps):
    """steps, or fewer where $FERKIT_MAX_STEPS says so."""
    cap = max_steps()
    return steps if cap is None else min(steps, cap)
