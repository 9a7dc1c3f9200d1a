"""Training-time augmentation as Keras preprocessing layers inside the model.

The layers are active only when the model is called with training=True, so every
consumer of a saved model (predict, analysis, export) sees the plain face.
"""

PARTS = ("flip", "shift", "rotate", "zoom", "erase")
PRESETS = {
    "none": (),
    "light": ("flip", "shift"),
    "standard": ("flip", "shift", "rotate", "zoom"),
    "strong": PARTS,
}


def parse_augment(spec):
    """The augmentation parts named by a preset or a comma list, in canonical order.

    Raises:
        ValueError: an unknown name.
    """
    spec = (spec or "none").strip()
    if spec in PRESETS:
        return PRESETS[spec]
    names = {s.strip() for s in spec.split(",") if s.strip()}
    unknown = sorted(names - set(PARTS))
    if unknown:
        raise ValueError(
            f"unknown augmentation {', '.join(unknown)}; use a preset "
            f"({', '.join(PRESETS)}) or a comma list of {', '.join(PARTS)}"
        )
    return tuple(p for p in PARTS if p in names)


def augmentation_layers(parts):
    """Keras layers for the given parts, for images scaled to 0-1."""
    from keras import layers

    # Faces are roughly centred and upright in FER2013: shifts of 10%, rotations of
    # 10 degrees and zooms of 10% keep them recognisable; the border repeats its edge.
    make = {
        "flip": lambda: layers.RandomFlip("horizontal", name="augment_flip"),
        "shift": lambda: layers.RandomTranslation(
            0.1, 0.1, fill_mode="nearest", name="augment_shift"
        ),
        "rotate": lambda: layers.RandomRotation(
            10 / 360, fill_mode="nearest", name="augment_rotate"
        ),
        "zoom": lambda: layers.RandomZoom(0.1, fill_mode="nearest", name="augment_zoom"),
        "erase": lambda: layers.RandomErasing(
            factor=0.5, scale=(0.02, 0.15), value_range=(0, 1), name="augment_erase"
        ),
    }
    return [make[p]() for p in parts]


def trained_with(model, part):
    """Whether model, or a model nested in it (an ensemble's members), contains the
    augmentation layer for part (False for exported models, which keep no layers)."""
    return any(
        layer.name == f"augment_{part}" or trained_with(layer, part)
        for layer in getattr(model, "layers", ())
    )
