"""train_framer.py: trains the framer on FER2013's training faces and writes it, as
TFLite with its JSON record, where the package ships it."""

import json
import time

import numpy as np

from ferkit.cli import add_data_arg, command_line, parser
from ferkit.deploy.framing import FRAMER_FILE, INNER, INPUT, rule_frame


def main(argv=None):
    p = parser(__doc__.splitlines()[0])
    add_data_arg(p)
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--seed", type=int, default=0, help="placements, split and weights")
    p.add_argument("--val-split", type=float, default=0.1, help="as the classifiers' split")
    p.add_argument("--limit", type=int, default=None, help="use only this many training faces")
    p.add_argument("--placements", type=int, default=1, help="times each training face is placed")
    p.add_argument("--flip", action="store_true", help="mirror each placed training face at random")
    p.add_argument(
        "--out",
        help="where to write it (default: where the package ships it, "
        "ferkit/deploy/data/framer.tflite)",
    )
    args = p.parse_args(argv)

    from ferkit.data import load_data, validation_split
    from ferkit.deploy import framer_fit as F
    from ferkit.deploy.detect import CROPS, BlazeFace, blazeface_path
    from ferkit.deploy.export import export_tflite
    from ferkit.machine import describe
    from ferkit.quiet import import_tensorflow_quietly
    from ferkit.record import data_entry
    from ferkit.runs import atomic_write_text

    import_tensorflow_quietly()
    data = load_data(args.data)
    faces, labels = data.x_train[..., 0], data.y_train
    if args.limit:
        keep = np.sort(np.random.default_rng(args.seed).choice(len(faces), args.limit, False))
        faces, labels = faces[keep], labels[keep]
    train_idx, val_idx = validation_split(labels, args.val_split, args.seed)
    detector = BlazeFace(blazeface_path(), framed=False)
    started = time.time()
    x_tr, t_tr, found_tr = F.samples(
        faces[train_idx], detector, args.seed, log=print, times=args.placements, flip=args.flip
    )
    x_va, t_va, found_va = F.samples(faces[val_idx], detector, args.seed + 1, log=print)
    model, history = F.fit(x_tr, t_tr, x_va, t_va, args.epochs, args.seed)
    predicted = model.predict(x_va, verbose=0)
    rule = CROPS["blazeface"]
    ruled = np.tile(rule_frame(rule), (len(t_va), 1))
    record = {
        "command": command_line("train_framer.py", argv),
        "data": data_entry(data),
        "input": {"inner": INNER, "pixels": INPUT},
        "placement": {
            "canvas": F.CANVAS,
            "sides": F.SIDES,
            "blur_face_pixels": F.BLUR,
            "placements_a_training_face": args.placements,
            "flipped_at_random": args.flip,
        },
        "faces": {"train": len(train_idx), "val": len(val_idx)},
        "found_iou_0.3": {"train": float(found_tr.mean()), "val": float(found_va.mean())},
        "val": {
            "framer": F.scores(predicted, t_va),
            f"box rule (margin {rule.margin:g}, rise {rule.rise:g})": F.scores(ruled, t_va),
            "best constant (training mean)": F.scores(np.tile(t_tr.mean(0), (len(t_va), 1)), t_va),
        },
        "history": {k: [round(float(v), 5) for v in vs] for k, vs in history.items()},
        "minutes": round((time.time() - started) / 60, 1),
        "machine": describe(),
    }
    out = export_tflite(model, args.out or FRAMER_FILE)
    atomic_write_text(out.with_suffix(".json"), json.dumps(record, indent=1) + "\n")
    print(json.dumps(record["val"], indent=1))
    print(f"wrote {out}")
