// The page: the webcam or a photo in, boxes, labels and probabilities out. Faces are found
// and cropped by faces.js, as Python does it; both nets run on ONNX Runtime Web's wasm
// backend, on this machine.
import * as ort from "./ort/ort.wasm.min.mjs";
import { Detector, Follower, cropFace, cutSquare, frameSquare, grey, innerPatch } from "./faces.js";

const $ = (id) => document.getElementById(id);
const view = $("view");
const video = $("video");
const context = view.getContext("2d", { willReadFrequently: true });
// photos.COLOURS, in RGB: a face keeps its colour in the picture and in the list.
const COLOURS = ["#ffc800", "#0078ff", "#50dc50", "#ff50c8", "#ff5000"];
const SIZE = 48;

ort.env.wasm.wasmPaths = new URL("./ort/", import.meta.url).href;
// Threads need a cross-origin isolated page (python -m ferkit.web's server sends the
// headers); any other host gets one thread, which works everywhere.
ort.env.wasm.numThreads = self.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;

// What the page last saw, and its analysis, for whoever drives it (tests, benchmarks).
const state = { ready: false, frames: 0, last: null, lastFrame: null, rate: 0 };
// follow: as camera frames are read, faces followed from the frame before.
state.analyse = (source, follow = false) => analyse(source, follow ? "follow" : "call");
window.ferkit = state;
let card, detector, follower, classifier, framer, stream;
let paused = false;
const stamps = [];

function say(text) {
  $("message").textContent = text;
  $("message").hidden = !text;
}

const percent = (v) => `${(100 * v).toFixed(1)}%`;

function describe(card) {
  const calibration = card.temperature
    ? `calibrated (temperature ${card.temperature.toFixed(2)}, expected calibration error ` +
      `${percent(card.val_ece)} on validation)`
    : "not calibrated";
  return (
    `Model ${card.name}: ${card.classes.length} classes, validation accuracy ` +
    `${percent(card.val_accuracy)}, ${calibration}.`
  );
}

async function load() {
  const options = { executionProviders: ["wasm"] };
  card = await (await fetch("model.json")).json();
  const [faceNet, expressionNet, framerNet] = await Promise.all([
    ort.InferenceSession.create("blazeface.onnx", options),
    ort.InferenceSession.create("model.onnx", options),
    card.detector.framer ? ort.InferenceSession.create("framer.onnx", options) : null,
  ]);
  const side = card.detector.input;
  detector = new Detector(async (tensor) => {
    const input = new ort.Tensor("float32", tensor, [1, side, side, 3]);
    const out = await faceNet.run({ [faceNet.inputNames[0]]: input });
    const [a, b] = faceNet.outputNames.map((name) => out[name]);
    // The regressors carry 16 numbers an anchor (box and six key points), the scores one.
    const [boxes, scores] = a.dims.at(-1) === 16 ? [a, b] : [b, a];
    return { boxes: boxes.data, scores: scores.data };
  }, card.detector);
  follower = new Follower(detector, card.detector.redetect);
  framer = framerNet && (async (picture, boxes) => {
    const { inner, input: n } = card.detector.framer;
    const x = new Float32Array(boxes.length * n * n);
    boxes.forEach((box, i) => x.set(innerPatch(picture, box, inner, n).data, i * n * n));
    const input = new ort.Tensor("float32", x, [boxes.length, n, n, 1]);
    const out = await framerNet.run({ [framerNet.inputNames[0]]: input });
    const frames = out[framerNet.outputNames[0]].data;
    return boxes.map((box, i) => frameSquare(box, frames.subarray(3 * i, 3 * i + 3)));
  });
  classifier = async (crops) => {
    if (!crops.length) return [];
    const x = new Float32Array(crops.length * SIZE * SIZE);
    crops.forEach((crop, i) => x.set(crop.data, i * SIZE * SIZE));
    const input = new ort.Tensor("float32", x, [crops.length, SIZE, SIZE, 1]);
    const out = await expressionNet.run({ [expressionNet.inputNames[0]]: input });
    const p = out[expressionNet.outputNames[0]].data;
    const k = card.classes.length;
    return crops.map((_, i) => Array.from(p.subarray(i * k, (i + 1) * k)));
  };
  $("model").textContent = describe(card);
  for (const id of ["camera", "photo"]) $(id).disabled = false;
  state.ready = true;
}

const argmax = (p) => p.indexOf(Math.max(...p));

// One analysis at a time: a photo dropped while a camera frame is in hand waits for it
// (a session runs one call at a time).
let queue = Promise.resolve();

/** Finds and reads every face in a picture (a video, an image bitmap), and shows them. */
function analyse(source, kind) {
  const job = queue.then(() => analyseNow(source, kind));
  queue = job.catch(() => {});
  return job;
}

async function analyseNow(source, kind) {
  const w = source.videoWidth || source.width;
  const h = source.videoHeight || source.height;
  if (view.width !== w || view.height !== h) [view.width, view.height] = [w, h];
  context.drawImage(source, 0, 0, w, h);
  const frame = context.getImageData(0, 0, w, h);
  const picture = grey(frame.data, w, h);
  // A camera's faces are followed from frame to frame, a photo's searched for.
  const { faces: found, followed } =
    kind === "camera" || kind === "follow"
      ? await follower.next(picture)
      : { faces: await detector.detect(picture), followed: null };
  const probs = await classifier(await crops(picture, found.map((f) => f.box)));
  const faces = found.map((f, i) => ({
    box: f.box,
    score: f.score,
    probs: probs[i],
    label: card.classes[argmax(probs[i])],
  }));
  draw(faces, Math.max(w, h));
  list(faces);
  Object.assign(state, { frames: state.frames + 1, last: { source: kind, faces, followed }, lastFrame: frame });
  return faces;
}

/** The faces in boxes as 48 x 48 grey levels, framed as Python frames them: by the
 * framer where the page has it, else by the margin and rise. */
async function crops(picture, boxes) {
  if (!boxes.length) return [];
  if (!framer) {
    const { margin, rise } = card.detector;
    return boxes.map((box) => cropFace(picture, box, margin, rise, SIZE));
  }
  return (await framer(picture, boxes)).map((square) => cutSquare(picture, square, SIZE));
}

function draw(faces, longSide) {
  const thickness = Math.max(2, Math.round(longSide / 300));
  faces.forEach(({ box: [x, y, w, h], label, probs }, i) => {
    const colour = COLOURS[i % COLOURS.length];
    context.lineWidth = thickness;
    context.strokeStyle = colour;
    context.strokeRect(x, y, w, h);
    const text = `${i + 1} ${label} ${Math.max(...probs).toFixed(2)}`;
    context.font = `${Math.max(12, Math.round(w / 9))}px system-ui, sans-serif`;
    const metrics = context.measureText(text);
    const height = metrics.actualBoundingBoxAscent + metrics.actualBoundingBoxDescent + 6;
    const top = Math.max(height, y);
    context.fillStyle = colour;
    context.fillRect(x, top - height, metrics.width + 6, height);
    context.fillStyle = "#000";
    context.fillText(text, x + 3, top - 3 - metrics.actualBoundingBoxDescent);
  });
}

function list(faces) {
  $("faces").replaceChildren(
    ...faces.map(({ label, probs }, i) => {
      const item = document.createElement("li");
      item.className = "face";
      item.dataset.label = label;
      item.style.setProperty("--colour", COLOURS[i % COLOURS.length]);
      const title = document.createElement("h2");
      title.textContent = `Face ${i + 1}: ${label} (${percent(Math.max(...probs))})`;
      item.append(title);
      card.classes.forEach((name, k) => {
        const bar = document.createElement("div");
        bar.className = "bar";
        bar.innerHTML = `<span></span><span><i style="width:${percent(probs[k])}"></i></span><span></span>`;
        bar.firstChild.textContent = name;
        bar.lastChild.textContent = percent(probs[k]);
        item.append(bar);
      });
      return item;
    }),
  );
}

function countFrame() {
  const now = performance.now();
  stamps.push(now);
  while (stamps.length && stamps[0] < now - 2000) stamps.shift();
  state.rate = stamps.length > 1 ? (1000 * (stamps.length - 1)) / (now - stamps[0]) : 0;
  $("rate").textContent = `${state.rate.toFixed(1)} frames/s`;
}

function nextFrame() {
  if (!stream || paused) return;
  if (video.requestVideoFrameCallback) video.requestVideoFrameCallback(onFrame);
  else requestAnimationFrame(onFrame);
}

async function onFrame() {
  if (!stream || paused) return;
  try {
    await analyse(video, "camera");
  } catch (err) {
    say(`The frame could not be read: ${err.message}`);
    return;
  }
  countFrame();
  nextFrame();
}

const CAMERA_REFUSED =
  "The camera was refused, so the page cannot see it. Allow the camera in the browser's " +
  "settings for this page and press Start again; photos work without it.";
const NO_CAMERA = "No camera was found. Photos work without one.";

async function startCamera() {
  say("");
  if (!navigator.mediaDevices?.getUserMedia) {
    say("This browser offers the page no camera (it needs https or localhost). Photos still work.");
    return;
  }
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      video: { width: { ideal: 640 }, height: { ideal: 480 }, facingMode: "user" },
      audio: false,
    });
  } catch (err) {
    const known = { NotAllowedError: CAMERA_REFUSED, NotFoundError: NO_CAMERA, OverconstrainedError: NO_CAMERA };
    say(known[err.name] ?? `The camera could not be started (${err.name}). Photos still work.`);
    return;
  }
  video.srcObject = stream;
  stream.getVideoTracks()[0]?.addEventListener("ended", () => {
    stream = null;
    say("The camera stopped.");
    $("camera").disabled = false;
    $("pause").disabled = true;
  });
  await video.play();
  $("camera").disabled = true;
  $("pause").disabled = false;
  setPaused(false);
}

function setPaused(value) {
  paused = value;
  $("pause").textContent = paused ? "Resume" : "Pause";
  if (!paused) {
    follower?.reset();
    nextFrame();
  }
}

async function showPhoto(file) {
  if (!file) return;
  if (stream) setPaused(true);
  say("");
  let bitmap;
  try {
    // As OpenCV reads a file: no colour management, the orientation its EXIF gives.
    bitmap = await createImageBitmap(file, { colorSpaceConversion: "none", imageOrientation: "from-image" });
  } catch {
    say(`${file.name} is not an image this browser can read.`);
    return;
  }
  let faces;
  try {
    faces = await analyse(bitmap, "photo");
  } catch (err) {
    say(`${file.name} could not be read: ${err.message}`);
    return;
  }
  if (!faces.length) say(`No face was found in ${file.name}.`);
}

$("camera").addEventListener("click", startCamera);
$("pause").addEventListener("click", () => setPaused(!paused));
$("photo").addEventListener("change", (e) => showPhoto(e.target.files[0]));
const stage = $("stage");
stage.addEventListener("dragover", (e) => {
  e.preventDefault();
  stage.classList.add("over");
});
stage.addEventListener("dragleave", () => stage.classList.remove("over"));
stage.addEventListener("drop", (e) => {
  e.preventDefault();
  stage.classList.remove("over");
  if (state.ready) showPhoto(e.dataTransfer.files[0]);
});

load().catch((err) => say(`The models could not be loaded: ${err.message}`));
