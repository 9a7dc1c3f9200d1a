"""Gradient-ascent settings, importable without TensorFlow (for argparse defaults)."""

from dataclasses import dataclass, replace

from ferkit.limits import capped


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


def ascent_config(args, steps):
    """The AscentConfig analyze.py's flags ask for, with `steps` steps."""
    cfg = AscentConfig(
        capped(steps), args.step_size, not args.no_normalize, args.jitter, args.tv, args.seed
    )
    return cfg.without_regularisation() if args.no_reg else cfg
