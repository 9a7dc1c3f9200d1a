"""Training the framer (ferkit/deploy/framing.py) on FER2013's training faces.

Each training face is placed once into a grey square at a random size and position,
sometimes blurred (so that the 48-pixel grid of an enlarged face cannot tell its frame's
size, as no photo has one), and BlazeFace searches the square. Where it finds the face, the
framer's input is the middle of its box, and its target is where the placed face's frame
lies around that box. The faces of the classifier's validation split (the same fraction
and seed as training's) score each epoch and choose nothing else.
"""

import cv2
import numpy as np

from ferkit.deploy.framing import INPUT, inner

CANVAS = 256
SIDES = (40, 170)
# Blur, in the face's own (48-pixel) pixels; at 0.7 or more the enlarged grid is gone.
BLUR = (0.0, 1.2)


def place(face, rng, sides=SIDES, blur=None):
    """(canvas, frame (x, y, side)): a 48x48 face placed at random into a grey square,
    its side within sides; blurred by `blur` face pixels, or by a random share of BLUR
    where blur is None, as in training."""
    side = int(rng.integers(sides[0], sides[1] + 1))
    canvas = np.full((CANVAS, CANVAS), int(rng.integers(40, 211)), np.uint8)
    x, y = (int(v) for v in rng.integers(8, CANVAS - side - 8, size=2))
    shrink = side < face.shape[0]
    canvas[y : y + side, x : x + side] = cv2.resize(
        face, (side, side), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC
    )
    sigma = (rng.uniform(*BLUR) if blur is None else blur) * side / face.shape[0]
    if sigma > 0.3:
        canvas = cv2.GaussianBlur(canvas, (0, 0), sigma)
    return canvas, (x, y, side)


def target(box, frame):
    """(log side ratio, dx, dy) of frame (x, y, side) around box (x, y, w, h)."""
    bx, by, bw, bh = box
    long = max(bw, bh)
    x, y, side = frame
    return (
        np.log(side / long),
        (x + side / 2 - bx - bw / 2) / long,
        (y + side / 2 - by - bh / 2) / long,
    )


def match(detector, canvas, frame):
    """(framer input, target) of the detector's box that overlaps frame (x, y, side)
    most, or None where none overlaps it by IoU 0.3."""
    from ferkit.deploy.detect import iou

    boxes = [f.box for f in detector(canvas)]
    if not boxes:
        return None
    x, y, side = frame
    corners = np.array([[bx, by, bx + bw, by + bh] for bx, by, bw, bh in boxes], float)
    overlap = iou(np.array([x, y, x + side, y + side], float), corners)
    best = int(np.argmax(overlap))
    if overlap[best] < 0.3:
        return None
    return inner(canvas, boxes[best]), target(boxes[best], frame)


def samples(faces, detector, seed, log=None, times=1, flip=False, **placing):
    """(inputs (n, INPUT, INPUT, 1) uint8, targets (n, 3), found (len(faces),) bool): each
    face placed `times` times (place, with placing's sides and blur), mirrored at random
    where flip is set; found where the detector's best box overlaps its frame by IoU 0.3
    in some placement. A mirrored face is searched as placed, not its sample mirrored:
    BlazeFace's box on a mirrored face is not the mirror of its box on the face."""
    rng = np.random.default_rng(seed)
    inputs, targets, found = [], [], np.zeros(len(faces), bool)
    for k, face in enumerate(faces):
        for _ in range(times):
            shown = face[:, ::-1] if flip and rng.random() < 0.5 else face
            matched = match(detector, *place(shown, rng, **placing))
            if matched is not None:
                found[k] = True
                inputs.append(matched[0])
                targets.append(matched[1])
        if log and (k + 1) % 2000 == 0:
            log(f"placed {k + 1}/{len(faces)} faces")
    shape = (len(inputs), INPUT, INPUT, 1)
    return np.array(inputs, np.uint8).reshape(shape), np.array(targets, np.float32), found


def build_framer(mean, std):
    """The framer: uint8 pixels in, (log side ratio, dx, dy) out; it learns the targets
    standardised by mean and std, which its last layer undoes."""
    import keras
    from keras import layers

    x = inp = keras.Input((INPUT, INPUT, 1), name="pixels")
    # Each face standardised on its own: what frames a face is its shape, not its
    # brightness or contrast (and a net without it sat on a plateau for epochs).
    x = layers.LayerNormalization(axis=[1, 2, 3], center=False, scale=False, name="standardise")(x)
    for block, filters in enumerate((24, 48, 96), 1):
        for k in (1, 2):
            x = layers.Conv2D(
                filters, 3, padding="same", activation="relu", name=f"conv{block}_{k}"
            )(x)
        x = layers.MaxPooling2D(name=f"pool{block}")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dense(64, activation="relu", name="dense")(x)
    x = layers.Dense(3, name="standardised")(x)
    out = layers.Rescaling(np.asarray(std, np.float32), np.asarray(mean, np.float32), name="frame")(
        x
    )
    return keras.Model(inp, out, name="framer")


def frame_iou(a, b):
    """IoU of frames (log side ratio, dx, dy) around the same box, row by row."""

    def corners(v):
        half = np.exp(v[:, 0]) / 2
        return v[:, 1] - half, v[:, 2] - half, v[:, 1] + half, v[:, 2] + half

    (a0, a1, a2, a3), (b0, b1, b2, b3) = corners(np.asarray(a)), corners(np.asarray(b))
    inter = np.clip(np.minimum(a2, b2) - np.maximum(a0, b0), 0, None) * np.clip(
        np.minimum(a3, b3) - np.maximum(a1, b1), 0, None
    )
    return inter / ((a2 - a0) ** 2 + (b2 - b0) ** 2 - inter)


def scores(predicted, targets):
    """Root mean square error of each target, and the IoU of predicted frames with the true."""
    overlap = frame_iou(predicted, targets)
    return {
        "residual_rms": [round(float(v), 4) for v in np.sqrt(((targets - predicted) ** 2).mean(0))],
        "mean_iou": round(float(overlap.mean()), 4),
        "share_iou_0.5": round(float((overlap >= 0.5).mean()), 4),
    }


def fit(x_train, t_train, x_val, t_val, epochs, seed, batch_size=128):
    """(model, history): the framer trained on standardised targets with Adam's cosine
    decay and a Huber loss, which lets the few faces framed far off weigh less."""
    import keras

    keras.utils.set_random_seed(seed)
    mean, std = t_train.mean(0), t_train.std(0)
    model = build_framer(mean, std)
    steps = epochs * -(-len(x_train) // batch_size)
    # The loss is on standardised targets: the last layer is skipped while training.
    trainer = keras.Model(model.input, model.get_layer("standardised").output)
    trainer.compile(
        keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(2e-3, steps)), loss="huber"
    )
    history = trainer.fit(
        x_train,
        (t_train - mean) / std,
        validation_data=(x_val, (t_val - mean) / std),
        epochs=epochs,
        batch_size=batch_size,
        verbose=2,
    )
    return model, history.history
