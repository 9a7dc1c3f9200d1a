"""Gradient ascent on the input: pictures of what a filter or a class responds to.

A whole batch is optimised at once: image i maximises filter i (or class i), so all
filters of a layer cost one forward/backward pass per step instead of one each.
"""

import keras
import numpy as np
import tensorflow as tf

from ferkit.analysis.config import AscentConfig  # noqa: F401 - re-exported for callers


def noise_images(n, shape, seed):
    """Grey images with a little noise: the usual start of activation maximisation."""
    rng = np.random.default_rng(seed)
    return np.clip(128 + 20 * rng.standard_normal((n, *shape)), 0, 255).astype(np.float32)


def _total_variation(x):
    return tf.reduce_sum(tf.abs(x[:, 1:] - x[:, :-1])) + tf.reduce_sum(
        tf.abs(x[:, :, 1:] - x[:, :, :-1])
    )


def _rms_normalise(g):
    rms = tf.sqrt(tf.reduce_mean(tf.square(g), axis=[1, 2, 3], keepdims=True))
    return g / (rms + 1e-8)


def ascend(objective, start, config):
    """Maximises objective(x) -> (n,) per image from start (n, h, w, 1).

    Returns:
        The final images as float32 (n, h, w, 1).
    """
    x = tf.Variable(np.asarray(start, np.float32))
    gen = tf.random.Generator.from_seed(config.seed)

    @tf.function
    def step():
        shift = gen.uniform([2], -config.jitter, config.jitter + 1, dtype=tf.int32)
        with tf.GradientTape(persistent=config.tv > 0) as tape:
            shifted = tf.roll(x, shift, axis=[1, 2]) if config.jitter else x
            gain = tf.reduce_sum(objective(shifted))
            tv = _total_variation(x) if config.tv > 0 else 0.0
        grad = tape.gradient(gain, x)
        if config.clip:
            # Pixels pinned at 0 or 255 that want to go further would only waste the
            # normalised step; drop those components (projected gradient ascent).
            pinned = ((x <= 0.0) & (grad < 0)) | ((x >= 255.0) & (grad > 0))
            grad = tf.where(pinned, tf.zeros_like(grad), grad)
        if config.normalize:
            grad = _rms_normalise(grad)
        if config.tv > 0:
            tv_grad = tape.gradient(tv, x)
            tv_grad = _rms_normalise(tv_grad) if config.normalize else tv_grad
            grad = (1 - config.tv) * grad - config.tv * tv_grad
        x.assign_add(config.step_size * grad)
        if config.clip:
            x.assign(tf.clip_by_value(x, 0.0, 255.0))

    for _ in range(config.steps):
        step()
    return x.numpy()


def filter_ascent(model, layer_name, config, filters=None, start=None):
    """Images maximising the mean activation of each filter of a conv layer.

    The objective is the filter's mean pre-activation (before ReLU): a ReLU output that is
    zero everywhere has no gradient, which is why naive ascent leaves filters as noise.

    Returns:
        (images (n, h, w) float32 in 0-255, final mean post-activation per filter (n,)).
    """
    layer = model.get_layer(layer_name)
    n_filters = layer.filters
    filters = np.arange(n_filters) if filters is None else np.asarray(filters)
    upstream = keras.Model(model.input, layer.input)
    select = tf.constant(np.eye(n_filters, dtype=np.float32)[filters])

    def pre_activation(x):
        h = upstream(x, training=False)
        z = keras.ops.conv(h, layer.kernel, strides=layer.strides, padding=layer.padding)
        return z + layer.bias if layer.use_bias else z

    def objective(x):
        return tf.reduce_sum(tf.reduce_mean(pre_activation(x), axis=[1, 2]) * select, axis=1)

    if start is None:
        start = noise_images(len(filters), model.input_shape[1:], config.seed)
    images = ascend(objective, start, config)
    post = layer.activation(pre_activation(images))
    final = tf.reduce_sum(tf.reduce_mean(post, axis=[1, 2]) * select, axis=1)
    return images[..., 0], np.asarray(final)


def class_ascent(model, start, classes, config, logits_layer="logits"):
    """Images maximising each class's log-probability, from start images (n, h, w, 1).

    Log-probability rather than the raw logit: raising one logit alone can raise the
    others too and leave the softmax short of 1.

    Returns:
        (images (n, h, w) float32 in 0-255, final probability of the target class (n,)).
    """
    logits_model = keras.Model(model.input, model.get_layer(logits_layer).output)
    select = tf.constant(np.eye(logits_model.output_shape[-1], dtype=np.float32)[classes])

    def objective(x):
        log_p = tf.nn.log_softmax(logits_model(x, training=False))
        return tf.reduce_sum(log_p * select, axis=1)

    images = ascend(objective, start, config)
    probs = tf.nn.softmax(logits_model(images, training=False))
    return images[..., 0], np.asarray(tf.reduce_sum(probs * select, axis=1))


# A picture is "noisy" when more than half of its energy (its mean removed) lies above
# half the Nyquist frequency; white noise puts 80% there, a smooth pattern little.
NOISY_SHARE = 0.5
NOISY_DEFINITION = (
    "more than half of the picture's energy (its mean removed) above half the Nyquist "
    "frequency; white noise has 80% there"
)


def high_frequency_share(images):
    """Per image (n, h, w): the share of its spectral energy, mean removed, at spatial
    frequencies above half the Nyquist frequency."""
    x = np.asarray(images, np.float64)
    x = x - x.mean(axis=(1, 2), keepdims=True)
    power = np.abs(np.fft.fft2(x, axes=(1, 2))) ** 2
    fy = np.fft.fftfreq(x.shape[1])[:, None]
    fx = np.fft.fftfreq(x.shape[2])[None, :]
    high = np.hypot(fy, fx) > 0.25
    total = power.sum(axis=(1, 2))
    return np.where(total > 0, (power * high).sum(axis=(1, 2)) / np.maximum(total, 1e-12), 0.0)
