"""The saved runs a new run builds on, the one it starts from (--init-from) and its
teacher: each must have been trained on the same faces with this run's validation faces
held out, or they would leak into its training."""

from ferkit.errors import InputError
from ferkit.runs import load_model, run_paths


def check_held_out(record, val_idx, what):
    """Raises InputError unless this run's validation faces were held out by the saved
    run `what` too: it trained on every other face, so another split would leak them."""
    if not set(val_idx.tolist()) <= set(record.get("split", {}).get("val_indices", ())):
        raise InputError(
            what,
            "held out other validation faces; use its --seed (or --split-seed), --val-split "
            "and --limit",
        )


def warm_start(model, init_from, record, data, val_idx, out=None):
    """Copies the weights of the saved run init_from (with its JSON record) into model
    (fine-tuning, a second learning-rate cycle, or FER+ labels on a FER2013 run). The
    saved run must share the faces, and this run's validation faces must be among its
    own: it was trained on every other face, so another split would leak them. A head
    of another size (7 FER2013 classes to 8 FER+ ones) starts afresh."""
    data.check_trained_on(record, init_from)
    check_held_out(record, val_idx, init_from)
    source = load_model(run_paths(init_from)[0])
    by_name = {layer.name: layer for layer in source.layers}
    fresh = []
    for layer in model.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        theirs = by_name.get(layer.name)
        ours = [w.shape for w in weights]
        if theirs is not None and [w.shape for w in theirs.get_weights()] == ours:
            layer.set_weights(theirs.get_weights())
        elif layer.name == "logits":
            fresh.append(layer.name)
        else:
            raise InputError(init_from, "is another architecture than --model")
    if fresh:
        print(f"note: {', '.join(fresh)} starts afresh (another number of classes)", file=out)
