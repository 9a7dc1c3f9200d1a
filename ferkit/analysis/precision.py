"""A float32 copy of a model trained under mixed precision, for explaining it."""

import keras


def float32_copy(model):
    """The same model with every layer computing in float32 (the weights are float32
    already); a model that is float32 throughout comes back as it is."""
    if all(layer.compute_dtype == "float32" for layer in model.layers):
        return model

    def clone(layer):
        config = layer.get_config()
        config["dtype"] = "float32"
        return layer.__class__.from_config(config)

    copy = keras.models.clone_model(model, clone_function=clone)
    copy.set_weights(model.get_weights())
    return copy
