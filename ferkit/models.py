"""Model builders: pure functions returning uncompiled functional Keras models.

Every model takes raw 0-255 pixels of shape (48, 48, 1) and rescales them itself, ends
in a `logits` Dense layer followed by a `probs` softmax, and names every layer so that
analysis code can address them.
"""

import functools

import keras
from keras import layers, ops

from ferkit import IMAGE_SIZE, NUM_CLASSES
from ferkit.augment import augmentation_layers, parse_augment

INPUT_SHAPE = (IMAGE_SIZE, IMAGE_SIZE, 1)

# Dropout does most of its good after the convolutions; in the head's narrow 64-unit
# layers it mostly slows training. Heavier rates everywhere (0.3-0.4 after the
# convolutions, 0.5-0.3 in the head) left the CNN underfitting at 0.59.
BLOCK_DROPOUT = (0.25, 0.3, 0.35)
HEAD_DROPOUT = (0.3, 0.2, 0.1)


def _float32_if_mixed():
    """The dtype for a layer that must compute in float32 even under mixed precision
    (None, the policy's own, when there is none)."""
    return "float32" if keras.config.dtype_policy().name != "float32" else None


# Layer normalisation over height, width and channels, without centre or scale, is
# per-image standardization (`tf.image.per_image_standardization`) up to epsilon, built
# from Keras's own layers so a saved model loads without this package. The epsilon is
# far below the variance of any face that is not blank (a blank one maps to 0 either way).
STANDARDIZE_EPSILON = 1e-6


def standardize_layer(name="standardize"):
    """Each face to zero mean and unit variance, computed in float32."""
    # A mean over 2,304 pixels in bfloat16 would lose the small differences.
    return layers.LayerNormalization(
        axis=(1, 2, 3),
        epsilon=STANDARDIZE_EPSILON,
        center=False,
        scale=False,
        name=name,
        dtype=_float32_if_mixed(),
    )


@keras.saving.register_keras_serializable(package="ferkit")
class Standardize(layers.Layer):
    """The custom layer models saved before standardize_layer used; kept so they load."""

    def call(self, x):
        mean = ops.mean(x, axis=(1, 2, 3), keepdims=True)
        std = ops.std(x, axis=(1, 2, 3), keepdims=True)
        floor = 1.0 / float(x.shape[1] * x.shape[2] * x.shape[3]) ** 0.5
        return (x - mean) / ops.maximum(std, floor)


def _inputs(augment=(), standardize=False):
    """The raw-pixel input, rescaled to 0-1, augmented (in training only) and, if asked,
    standardized per image."""
    pixels = keras.Input(shape=INPUT_SHAPE, name="pixels")
    x = layers.Rescaling(1.0 / 255, name="rescale")(pixels)
    for layer in augmentation_layers(augment):
        x = layer(x)
    if standardize:
        x = standardize_layer()(x)
    return pixels, x


def _outputs(x, num_classes=NUM_CLASSES):
    logits = layers.Dense(num_classes, name="logits")(x)
    # Under mixed precision the probabilities stay float32 so the loss stays exact.
    return layers.Activation("softmax", name="probs", dtype=_float32_if_mixed())(logits)


def _dense_head(x, units=(128, 64, 64), dropout=HEAD_DROPOUT, num_classes=NUM_CLASSES):
    """The reference report's head: Dense-Dropout blocks, then logits and softmax."""
    for i, (n, rate) in enumerate(zip(units, dropout), start=1):
        x = layers.Dense(n, activation="relu", name=f"dense{i}")(x)
        x = layers.Dropout(rate, name=f"dense{i}_drop")(x)
    return _outputs(x, num_classes)


def build_cnn(
    filters=(64, 80, 64),
    padding=("same", "same", "valid"),
    conv_dropout=BLOCK_DROPOUT,
    head_units=(128, 64, 64),
    head_dropout=HEAD_DROPOUT,
    standardize=True,
    augment=(),
    num_classes=NUM_CLASSES,
):
    """The reference CNN: three [Conv 3x3 ReLU -> MaxPool 2x2 -> Dropout] blocks and a
    128-64-64-7 dense head; 310,743 parameters with the defaults.

    The third convolution is unpadded, so the head sees 5x5 maps instead of 6x6: this
    keeps the dense layer (and the overfitting the reference report saw) smaller.
    Moving the budget into the convolutions (48/128/76 filters, a 4x4 flatten) did not
    help: it ran level with this one for 32 epochs.
    """
    pixels, x = _inputs(augment, standardize)
    for i, (n, pad, rate) in enumerate(zip(filters, padding, conv_dropout), start=1):
        x = layers.Conv2D(n, 3, padding=pad, activation="relu", name=f"conv{i}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{i}")(x)
        x = layers.Dropout(rate, name=f"conv{i}_drop")(x)
    x = layers.Flatten(name="flatten")(x)
    return keras.Model(pixels, _dense_head(x, head_units, head_dropout, num_classes), name="cnn")


def build_dnn(
    hidden=(112, 112, 112),
    hidden_dropout=BLOCK_DROPOUT,
    head_units=(128, 64, 64),
    head_dropout=HEAD_DROPOUT,
    standardize=True,
    augment=(),
    num_classes=NUM_CLASSES,
):
    """The parameter-matched DNN: the CNN's convolution blocks replaced by fully connected
    layers of 112 units (310,807 parameters, within 0.1% of the CNN), same head and dropout.
    """
    pixels, x = _inputs(augment, standardize)
    x = layers.Flatten(name="flatten")(x)
    for i, (n, rate) in enumerate(zip(hidden, hidden_dropout), start=1):
        x = layers.Dense(n, activation="relu", name=f"fc{i}")(x)
        x = layers.Dropout(rate, name=f"fc{i}_drop")(x)
    return keras.Model(pixels, _dense_head(x, head_units, head_dropout, num_classes), name="dnn")


def _conv_bn(x, filters, name):
    """Conv 3x3 (no bias: BatchNorm adds one) -> BatchNorm -> ReLU."""
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=name)(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def _stages(x, stages, dropout, batchnorm_from=1):
    """Stages of 3x3 conv-BN-ReLU layers, each ended by 2x2 max-pooling and dropout;
    stages before batchnorm_from (counted from 1) convolve without BatchNorm."""
    i = 0
    for s, widths in enumerate(stages, start=1):
        for n in widths:
            i += 1
            if s >= batchnorm_from:
                x = _conv_bn(x, n, f"conv{i}")
            else:
                x = layers.Conv2D(n, 3, padding="same", activation="relu", name=f"conv{i}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{s}")(x)
        if dropout:
            x = layers.Dropout(dropout, name=f"pool{s}_drop")(x)
    return x


def build_vgg(
    stages=((32, 32), (64, 64), (128, 128), (256, 256)),
    dropout=0.1,
    dense=256,
    head_dropout=0.5,
    augment=(),
    num_classes=NUM_CLASSES,
):
    """A small VGG-style net with BatchNorm: four stages of two 3x3 convolutions
    (48, 24, 12 and 6 pixels wide), a 256-unit dense layer and the softmax."""
    pixels, x = _inputs(augment)
    x = _stages(x, stages, dropout)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(dense, use_bias=False, name="dense1")(x)
    x = layers.BatchNormalization(name="dense1_bn")(x)
    x = layers.ReLU(name="dense1_relu")(x)
    x = layers.Dropout(head_dropout, name="dense1_drop")(x)
    return keras.Model(pixels, _outputs(x, num_classes), name="vgg")


def build_fast(
    stages=((16,), (48,), (96, 96), (192,)),
    dropout=0.0,
    head_dropout=0.1,
    batchnorm_from=None,
    augment=(),
    num_classes=NUM_CLASSES,
    name="fast",
):
    """A net designed for CPU speed: one convolution at each of the two large
    resolutions (48 and 24 pixels), where convolutions cost the most and map channels
    poorly onto the matrix units, and the width at 12 and 6 pixels; global average
    pooling instead of a large dense layer.

    No BatchNorm by default (batchnorm_from: the first stage that has one): under
    bfloat16 Keras computes each BatchNorm in float32, and the casts and statistics over
    the large maps made a training step 2.4 times as long. Each face is standardized
    instead, and the net converges nearly as fast per epoch.
    """
    pixels, x = _inputs(augment, standardize=batchnorm_from is None)
    x = _stages(x, stages, dropout, batchnorm_from or len(stages) + 1)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dropout(head_dropout, name="gap_drop")(x)
    return keras.Model(pixels, _outputs(x, num_classes), name=name)


def build_compact(augment=(), num_classes=NUM_CLASSES):
    """The fast net widened to fill a compact model's budget of 0.5M parameters: 64
    channels at 24 pixels and 128 at 12, where the fast net has 48 and 96; about 1.6
    times its arithmetic."""
    return build_fast(
        stages=((16,), (64,), (128, 128), (192,)),
        augment=augment,
        num_classes=num_classes,
        name="compact",
    )


def build_wide(augment=(), num_classes=NUM_CLASSES):
    """The fast net's design at more than twice the VGG's arithmetic (511 MFLOP a face to
    236): no BatchNorm, the faces standardized, one convolution at 48 pixels and the
    width where the maps are small (96, 192 and 384 channels at 24, 12 and 6 pixels).
    Built for CPUs: without BatchNorm's float32 islands and casts, which take 28% of a
    bfloat16 VGG step outside oneDNN (bench/profile_step.py), its step keeps the
    convolutions busy (bench/results/throughput.md)."""
    return build_fast(
        stages=((32,), (96, 96), (192, 192, 192), (384, 384)),
        head_dropout=0.2,
        augment=augment,
        num_classes=num_classes,
        name="wide",
    )


def build_lean(augment=(), num_classes=NUM_CLASSES):
    """The wide net's design at the VGG's arithmetic (235 MFLOP a face): 32, 64, 128 and
    256 channels at 48, 24, 12 and 6 pixels, no BatchNorm, so that a CPU hour buys about
    twice the VGG's epochs (bench/results/throughput.md)."""
    return build_fast(
        stages=((32,), (64, 64), (128, 128, 128), (256, 256)),
        head_dropout=0.2,
        augment=augment,
        num_classes=num_classes,
        name="lean",
    )


BUILDERS = {
    "cnn": build_cnn,
    "dnn": build_dnn,
    "vgg": build_vgg,
    "fast": build_fast,
    "compact": build_compact,
    "wide": build_wide,
    "lean": build_lean,
}


def builder_for(config):
    """The builder of a TrainConfig's model, with its augmentation."""

    return functools.partial(
        BUILDERS[config.model],
        augment=parse_augment(config.augment),
        num_classes=config.num_classes,
    )


def count_params(model):
    """Trainable parameter count."""
    return int(sum(keras.ops.size(w) for w in model.trainable_weights))
