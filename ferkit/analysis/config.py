"""Gradient-ascent settings, importable without TensorFlow (for argparse defaults)."""

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class AscentConfig:
    """Settings of one ascent.

    Attributes:
        steps: gradient steps.
        step_size: pixel units moved per step (with normalised gradients, the RMS change).
        normalize: scale each image's gradient to unit RMS (stable step sizes across layers).
        jitter: random shift of up to this many pixels before each step; 0 disables.
        tv: total-variation weight, as a share of each step spent smoothing; 0 disables.
        seed: seeds the starting noise and the jitter.
        clip: keep pixels in 0-255, the range of real faces; off lets the ascent leave it.
    """

    steps: int = 64
    step_size: float = 6.0
    normalize: bool = True
    jitter: int = 2
    tv: float = 0.3
    seed: int = 0
    clip: bool = True

    def without_regularisation(self):
        return replace(self, jitter=0, tv=0.0)
