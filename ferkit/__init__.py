"""ferkit: facial-expression recognition on FER2013 with Keras 3."""

CLASS_NAMES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
NUM_CLASSES = len(CLASS_NAMES)
IMAGE_SIZE = 48
NUM_PIXELS = IMAGE_SIZE * IMAGE_SIZE

__version__ = "0.1.0"
# Architectures the trainers can build (ferkit.models.BUILDERS), listed without Keras.
ARCHITECTURES = ("cnn", "dnn", "vgg", "fast")
