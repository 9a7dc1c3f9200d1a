"""ferkit: facial-expression recognition on FER2013 with Keras 3."""

CLASS_NAMES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
NUM_CLASSES = len(CLASS_NAMES)
# FER+ (Microsoft's relabelling) adds contempt; its models have eight outputs.
FERPLUS_CLASS_NAMES = CLASS_NAMES + ("contempt",)


def class_names_for(n):
    """The class names of a model with n outputs: FER2013's seven, or FER+'s eight."""
    names = {len(CLASS_NAMES): CLASS_NAMES, len(FERPLUS_CLASS_NAMES): FERPLUS_CLASS_NAMES}
    if n not in names:
        raise ValueError(f"a model with {n} outputs is neither FER2013 (7) nor FER+ (8)")
    return names[n]


IMAGE_SIZE = 48
NUM_PIXELS = IMAGE_SIZE * IMAGE_SIZE

__version__ = "0.1.0"
# Architectures the trainers can build (ferkit.models.BUILDERS), listed without Keras.
ARCHITECTURES = ("cnn", "dnn", "vgg", "fast", "compact", "wide", "lean")
# Those that end their convolutions in global pooling, and so train at any face size.
RESOLUTION_FREE = ("fast", "compact", "wide", "lean")
