"""Progressive resolution: the first epochs train on the faces shrunk, the rest at full
size, so that early epochs, which learn coarse features, cost a fraction of a full one.

A net whose convolutions end in global pooling computes at any input size, so the
smaller faces train the very weights the saved 48-pixel model keeps. Validation and
everything after training see full-size faces only.
"""

import keras

from ferkit import IMAGE_SIZE
from ferkit.train.stages import size_at


class _Views:
    """The net at other input sizes; a plain holder, so Keras does not track the
    shared layers a second time."""

    def __init__(self, net):
        self.net, self.by_size = net, {IMAGE_SIZE: net}

    def __call__(self, size):
        if size not in self.by_size:
            shape = (size, size, self.net.input_shape[-1])
            # Cloning with each layer itself builds the same graph on a smaller input,
            # sharing every weight with the net.
            self.by_size[size] = keras.models.clone_model(
                self.net, input_tensors=keras.Input(shape), clone_function=lambda layer: layer
            )
        return self.by_size[size]


class ProgressiveResolution(keras.Model):
    """Trains net on its faces resized to `size` (set per epoch by the callback);
    validates and predicts at full size. The net shares its weights with this model, so
    it is what callers save."""

    def __init__(self, net, **kwargs):
        super().__init__(**kwargs)
        self.net, self.size = net, IMAGE_SIZE
        self._views = _Views(net)
        self.built = True  # its one part is a built functional model

    def call(self, x, training=False):
        return self._views(x.shape[1])(x, training=training)

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        if self.size != IMAGE_SIZE:
            # Area averaging: a shrunk face as a lower-resolution camera would see it, at a
            # tenth of the cost of an antialiased bilinear resize on the CPU.
            x = keras.ops.image.resize(
                keras.ops.cast(x, "float32"), (self.size, self.size), interpolation="area"
            )
        return super().train_step((x, y, sample_weight))


def progressive_callback(stages, out):
    """Sets each epoch's face size, tracing a new training step when it changes, and
    says so on out."""

    class Progressive(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            size = size_at(stages, epoch)
            if size != self.model.size:
                self.model.size = size
                print(f"training on {size}x{size} faces from epoch {epoch + 1}", file=out)
                # fit() calls model.train_function every step, so the new one takes over.
                self.model.make_train_function(force=True)

    return Progressive()
