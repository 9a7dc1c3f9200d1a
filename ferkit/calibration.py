"""Calibrated probabilities: temperature scaling (Guo et al. 2017) fitted on the
validation split, and the ECE that sampling alone gives (the measures themselves, ECE
and NLL, are ferkit.evaluate's).

The temperature lives inside the model, as a built-in Rescaling layer between `logits`
and `probs`, so every consumer of the file gets calibrated probabilities.
"""

import keras
import numpy as np
from scipy.optimize import minimize_scalar

from ferkit.evaluate import (
    ECE_BINS,
    bin_of,
    calibration_stats,
    negative_log_likelihood,
    predict_probs,
    scored_parts,
    softmax,
)


def ece_floor(probs, bins=ECE_BINS, draws=1000, seed=0):
    """The ECE that these probabilities would show were they perfectly calibrated: each
    face counted right with the probability of its top class, `draws` times over. On the
    few thousand faces of a FER2013 split this sampling noise alone is 0.015-0.02, so an
    ECE near it is as small as the faces can measure.

    Returns:
        {"mean": the average such ECE, "p95": its 95th percentile}.
    """
    confidence = np.asarray(probs, np.float64).max(axis=1)
    which = bin_of(confidence, bins)
    correct = np.random.default_rng(seed).random((draws, len(confidence))) < confidence
    gap = np.zeros(draws)
    for b in np.unique(which):
        mask = which == b
        gap += np.abs(correct[:, mask].mean(axis=1) - confidence[mask].mean()) * mask.mean()
    return {"mean": float(gap.mean()), "p95": float(np.quantile(gap, 0.95))}


def fit_temperature(logits, labels):
    """The temperature T > 0 that minimises the NLL of softmax(logits / T)."""
    logits = np.asarray(logits, np.float64)

    def nll(log_t):
        return negative_log_likelihood(softmax(logits, np.exp(log_t)), labels)

    best = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(best.x))


def logits_model(model):
    """A model from the same input to the `logits` layer's output (before any
    temperature), for fitting one."""
    return keras.Model(model.input, model.get_layer("logits").output)


def temperature_of(model):
    """The temperature stored in model (1.0 when it has none)."""
    try:
        return 1.0 / float(model.get_layer("temperature").scale)
    except ValueError:
        return 1.0


def with_temperature(model, temperature):
    """model with its logits divided by temperature before the softmax: the same
    layers and weights, a built-in Rescaling layer named `temperature` in between."""
    logits = model.get_layer("logits").output
    # The division and the softmax run in float32 even in a bfloat16 model.
    scaled = keras.layers.Rescaling(1.0 / temperature, name="temperature", dtype="float32")(logits)
    probs = keras.layers.Activation("softmax", name="probs", dtype="float32")(scaled)
    return keras.Model(model.input, probs, name=model.name)


def calibrate_run(model, record, data, tta=True):
    """Fits a temperature on the run's validation faces and returns (the calibrated model,
    which is model itself when it already holds that temperature; the record's
    `calibration` entry: the temperature, ECE and NLL before and after on validation and
    public, and the ECE floor; with tta, the TTA path's own calibration under `tta`)."""
    parts = scored_parts(data, np.asarray(record["split"]["val_indices"]))
    to_logits = logits_model(model)
    logits = {k: predict_probs(to_logits, x).astype(np.float64) for k, (x, _) in parts.items()}
    # Refitting a calibrated model starts from its raw logits, so it is not compounded.
    temperature, current = fit_temperature(logits["val"], parts["val"][1]), temperature_of(model)
    # Within the fit's own tolerance of the temperature the model has, the model keeps it
    # and comes back as it is: logits computed again may differ in the last bits.
    kept = abs(np.log(temperature / current)) < 1e-3
    if kept:
        temperature = current
    entry = {"temperature": temperature, "bins": ECE_BINS, "fitted_on": "val"}
    for k, z in logits.items():
        entry[k] = _stats(softmax(z), softmax(z, temperature), parts[k][1])
    calibrated = model if kept else with_temperature(model, temperature)
    if tta:
        entry["tta"] = tta_calibration(calibrated, parts)
    return calibrated, entry


def _stats(before, after, labels):
    return {
        "before": calibration_stats(before, labels),
        "after": calibration_stats(after, labels),
        "ece_floor": ece_floor(after),
    }


def tta_calibration(model, parts):
    """The TTA path's own temperature, fitted on the validation faces' averaged views:
    averaging calibrated views gives probabilities that are less sure than the views, so
    the single view's temperature does not carry over. Applied to the average's log
    (evaluate.tempered), which keeps every label.

    Returns:
        the record's `calibration.tta`: the temperature, and ECE and NLL before and after
        on validation and public, with the ECE floor.
    """
    probs = {k: predict_probs(model, x, tta=True) for k, (x, _) in parts.items()}
    logs = {k: np.log(np.maximum(p.astype(np.float64), 1e-12)) for k, p in probs.items()}
    temperature = fit_temperature(logs["val"], parts["val"][1])
    entry = {"temperature": temperature, "fitted_on": "val"}
    for k, p in probs.items():
        # evaluate.tempered(p, temperature), its log taken once above.
        entry[k] = _stats(p, softmax(logs[k], temperature), parts[k][1])
    return entry
