"""A --progressive schedule's stages, read without Keras so that the flags are checked
before TensorFlow loads."""

from ferkit import IMAGE_SIZE

SMALLEST = 16


def parse_progressive(spec):
    """The schedule of a spec such as "32:6,40:4": 32 pixels for 6 epochs, then 40 for 4,
    then full size. Returns ((size, epochs), ...); () for an empty spec.

    Raises:
        ValueError: a malformed part, a size outside 16-47, a size that does not grow,
            or an epoch count below 1.
    """
    stages = []
    for part in (spec or "").split(","):
        if not part.strip():
            continue
        size, sep, epochs = part.partition(":")
        try:
            stage = (int(size), int(epochs))
        except ValueError:
            stage = None
        if not sep or stage is None:
            raise ValueError(f"{part.strip()!r} is not SIZE:EPOCHS (such as 32:6)")
        if not SMALLEST <= stage[0] < IMAGE_SIZE:
            raise ValueError(f"size {stage[0]} is outside {SMALLEST}-{IMAGE_SIZE - 1} pixels")
        if stage[1] < 1:
            raise ValueError(f"{stage[1]} epochs at {stage[0]} pixels: at least 1")
        if stages and stage[0] <= stages[-1][0]:
            raise ValueError(f"sizes must grow: {stage[0]} after {stages[-1][0]}")
        stages.append(stage)
    return tuple(stages)


def size_at(stages, epoch):
    """The face size epoch (from 0) trains at."""
    end = 0
    for size, epochs in stages:
        end += epochs
        if epoch < end:
            return size
    return IMAGE_SIZE
