// Faces in a picture, found and cropped as ferkit's Python path does (ferkit/deploy/
// detect.py): OpenCV's grey levels, OpenCV's area resampling, BlazeFace's anchors, box
// decoding and non-maximum suppression, the same tiles and the same crop. No DOM here:
// the page and the tests in Node call it alike.

// The detector's settings (detect.py's BLAZEFACE model, NMS_IOU, ...) come with the
// model's card, so Python and the page cannot drift apart.
const f32 = Math.fround;

/** Python's round(): halves go to the even neighbour. */
export function roundHalfEven(x) {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** OpenCV's cvRound of a float32 (half to even), saturated to 0-255. */
function toByte(v) {
  return Math.min(255, Math.max(0, roundHalfEven(v)));
}

/** Grey levels of RGBA pixels as OpenCV's COLOR_BGR2GRAY computes them (15-bit fixed
 * point, the weights 0.299, 0.587 and 0.114). Returns {data, width, height}. */
export function grey(rgba, width, height) {
  const data = new Uint8Array(width * height);
  for (let i = 0, j = 0; i < data.length; i++, j += 4) {
    data[i] = (rgba[j] * 9798 + rgba[j + 1] * 19235 + rgba[j + 2] * 3735 + 16384) >> 15;
  }
  return { data, width, height };
}

// OpenCV's computeResizeAreaTab: which source pixels each output pixel covers, and by
// how much, along one axis; made once for each pair of sizes, as a camera repeats them.
const tables = new Map();

function areaTable(ssize, dsize) {
  const key = `${ssize}:${dsize}`;
  if (tables.has(key)) return tables.get(key);
  const scale = 1 / (dsize / ssize);
  const entries = [];
  for (let d = 0; d < dsize; d++) {
    const fs1 = d * scale;
    const fs2 = fs1 + scale;
    const cell = Math.min(scale, ssize - fs1);
    const s2 = Math.min(Math.floor(fs2), ssize - 1);
    const s1 = Math.min(Math.ceil(fs1), s2);
    if (s1 - fs1 > 1e-3) entries.push([d, s1 - 1, (s1 - fs1) / cell]);
    for (let s = s1; s < s2; s++) entries.push([d, s, 1 / cell]);
    if (fs2 - s2 > 1e-3) entries.push([d, s2, Math.min(fs2 - s2, 1, cell) / cell]);
  }
  const table = {
    d: Int32Array.from(entries, (e) => e[0]),
    s: Int32Array.from(entries, (e) => e[1]),
    alpha: Float32Array.from(entries, (e) => e[2]),
  };
  tables.set(key, table);
  return table;
}

// Shrinking by a whole factor: OpenCV averages k x k blocks; for k = 2 its vector code
// rounds halves up.
function shrinkBy(src, k, dw, dh) {
  const out = new Uint8Array(dw * dh);
  const scale = f32(1 / (k * k));
  for (let y = 0; y < dh; y++) {
    for (let x = 0; x < dw; x++) {
      let sum = 0;
      for (let i = 0; i < k; i++) {
        const row = (y * k + i) * src.width + x * k;
        for (let j = 0; j < k; j++) sum += src.data[row + j];
      }
      out[y * dw + x] = k === 2 ? (sum + 2) >> 2 : toByte(f32(sum * scale));
    }
  }
  return out;
}

// Shrinking by any factor: OpenCV's resizeArea_ in float32, row by row.
function shrinkArea(src, dw, dh) {
  const x = areaTable(src.width, dw);
  const y = areaTable(src.height, dh);
  const out = new Uint8Array(dw * dh);
  const buf = new Float32Array(dw);
  const sum = new Float32Array(dw);
  const n = x.d.length;
  let prev = y.d[0];
  for (let j = 0; j < y.d.length; j++) {
    const dy = y.d[j];
    const beta = y.alpha[j];
    buf.fill(0);
    const row = y.s[j] * src.width;
    for (let k = 0; k < n; k++) buf[x.d[k]] += f32(src.data[row + x.s[k]] * x.alpha[k]);
    if (dy !== prev) {
      for (let dx = 0; dx < dw; dx++) {
        out[prev * dw + dx] = toByte(sum[dx]);
        sum[dx] = f32(beta * buf[dx]);
      }
      prev = dy;
    } else {
      for (let dx = 0; dx < dw; dx++) sum[dx] += f32(beta * buf[dx]);
    }
  }
  for (let dx = 0; dx < dw; dx++) out[prev * dw + dx] = toByte(sum[dx]);
  return out;
}

// Growing: OpenCV's INTER_AREA is then a bilinear interpolation with its own weights, in
// 11-bit fixed point.
function growTable(ssize, dsize) {
  const scale = 1 / (dsize / ssize);
  const inv = dsize / ssize;
  const tab = [];
  for (let d = 0; d < dsize; d++) {
    let s = Math.floor(d * scale);
    let fx = f32(d + 1 - (s + 1) * inv);
    fx = fx <= 0 ? 0 : fx - Math.floor(fx);
    if (s < 0) [s, fx] = [0, 0];
    if (s >= ssize - 1) [s, fx] = [ssize - 1, 0];
    const w0 = Math.round(f32(1 - fx) * 2048);
    tab.push([s, Math.min(s + 1, ssize - 1), w0, 2048 - w0]);
  }
  return tab;
}

function growArea(src, dw, dh) {
  const xtab = growTable(src.width, dw);
  const ytab = growTable(src.height, dh);
  const out = new Uint8Array(dw * dh);
  const at = (y, x) => src.data[y * src.width + x];
  for (let y = 0; y < dh; y++) {
    const [y0, y1, b0, b1] = ytab[y];
    for (let x = 0; x < dw; x++) {
      const [x0, x1, a0, a1] = xtab[x];
      const top = at(y0, x0) * a0 + at(y0, x1) * a1;
      const bottom = at(y1, x0) * a0 + at(y1, x1) * a1;
      out[y * dw + x] = Math.min(255, Math.max(0, (top * b0 + bottom * b1 + (1 << 21)) >> 22));
    }
  }
  return out;
}

/** A grey image resized to dw x dh as OpenCV's resize with INTER_AREA does. */
export function resizeArea(src, dw, dh) {
  if (src.width === dw && src.height === dh) return { data: src.data.slice(), width: dw, height: dh };
  const kx = src.width / dw;
  const ky = src.height / dh;
  let data;
  if (kx >= 1 && ky >= 1) {
    const whole = Number.isInteger(kx) && kx === ky;
    data = whole ? shrinkBy(src, kx, dw, dh) : shrinkArea(src, dw, dh);
  } else {
    data = growArea(src, dw, dh);
  }
  return { data, width: dw, height: dh };
}

/** The w x h part of a grey image from (x0, y0); outside the image, its edge pixels
 * repeated (OpenCV's BORDER_REPLICATE), or black. */
export function cut(src, x0, y0, w, h, replicate = true) {
  const data = new Uint8Array(w * h);
  // The columns inside the image are copied a row at a time.
  const left = Math.min(w, Math.max(0, -x0));
  const right = Math.max(left, Math.min(w, src.width - x0));
  for (let y = 0; y < h; y++) {
    let sy = y0 + y;
    if (sy < 0 || sy >= src.height) {
      if (!replicate) continue;
      sy = Math.min(src.height - 1, Math.max(0, sy));
    }
    const row = sy * src.width;
    data.set(src.data.subarray(row + x0 + left, row + x0 + right), y * w + left);
    if (replicate) {
      data.fill(src.data[row], y * w, y * w + left);
      data.fill(src.data[row + src.width - 1], y * w + right, (y + 1) * w);
    }
  }
  return { data, width: w, height: h };
}

/** detect.crop_square: centre and side of the square a crop of box covers. */
export function cropSquare([x, y, w, h], margin, rise = 0) {
  const long = Math.max(w, h);
  return [x + w / 2, y + h / 2 - rise * long, long * (1 + 2 * margin)];
}

/** detect.crop_face: the face as 48 x 48 grey levels. */
export function cropFace(src, box, margin, rise = 0, size = 48) {
  return cutSquare(src, cropSquare(box, margin, rise), size);
}

/** detect.cut: a [centre x, centre y, side] square of a grey image as size x size. */
export function cutSquare(src, [cx, cy, exact], size = 48) {
  const side = Math.max(1, roundHalfEven(exact));
  const x0 = roundHalfEven(cx - side / 2);
  const y0 = roundHalfEven(cy - side / 2);
  return resizeArea(cut(src, x0, y0, side, side), size, size);
}

/** framing.inner: the framer's input for box, the middle `inner` of the square of its
 * longer side, as size x size grey levels. */
export function innerPatch(src, [x, y, w, h], inner, size) {
  return cutSquare(src, [x + w / 2, y + h / 2, inner * Math.max(w, h)], size);
}

/** framing.frame_square: the [centre x, centre y, side] of the frame the framer gives,
 * [log side ratio, dx, dy], around box. */
export function frameSquare([x, y, w, h], [logSide, dx, dy]) {
  const long = Math.max(w, h);
  return [x + w / 2 + dx * long, y + h / 2 + dy * long, long * Math.exp(logSide)];
}

/** BlazeFace's anchor centres, x then y in 0-1, as detect.py's anchors() lays them: the
 * layers of one stride share a grid, row by row, each cell's anchors consecutive. */
export function anchors({ input, strides, anchors_per_layer: perLayer }) {
  const out = [];
  for (let i = 0; i < strides.length; ) {
    let layers = 0;
    while (strides[i + layers] === strides[i]) layers++;
    const cells = Math.floor(input / strides[i]);
    for (let y = 0; y < cells; y++) {
      for (let x = 0; x < cells; x++) {
        for (let k = 0; k < layers * perLayer; k++) {
          out.push(f32((x + 0.5) / cells), f32((y + 0.5) / cells));
        }
      }
    }
    i += layers;
  }
  return Float32Array.from(out);
}

/** [IoU, the share of the smaller box inside the other] of x0, y0, x1, y1 boxes. */
function overlap(a, b) {
  const w = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const h = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = w * h;
  const [areaA, areaB] = [(a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1])];
  const union = inter / Math.max(areaA + areaB - inter, 1e-9);
  return [union, inter / Math.max(Math.min(areaA, areaB), 1e-9)];
}

function iou(a, b) {
  return overlap(a, b)[0];
}

/** Indices of the boxes kept, best first (detect.non_max_suppression): each drops the
 * boxes that overlap it by more than threshold (IoU) or lie more than within inside it
 * or around it. */
export function nonMaxSuppression(boxes, scores, threshold, within) {
  let order = scores.map((s, i) => i).sort((a, b) => scores[b] - scores[a] || a - b);
  const keep = [];
  while (order.length) {
    const best = order.shift();
    keep.push(best);
    order = order.filter((i) => {
      const [union, inside] = overlap(boxes[best], boxes[i]);
      return union <= threshold && inside <= within;
    });
  }
  return keep;
}

/** A BlazeFace detector: run(tensor Float32Array (1, size, size, 3)) resolves to its
 * {boxes: Float32Array (anchors x 16), scores: Float32Array (anchors)}. */
export class Detector {
  constructor(run, settings) {
    this.run = run;
    this.settings = settings;
    this.anchors = anchors(settings);
  }

  /** Faces in a grey image, largest first: [{box: [x, y, w, h], score}]. */
  async detect(src) {
    const { width: w, height: h } = src;
    const found = [await this.detectSquare(src)];
    const n = this.runs(src) - 1; // the square tiles
    if (n) {
      const side = Math.min(h, w);
      for (let k = 0; k < n; k++) {
        // np.linspace(0, long - side, n), rounded as NumPy rounds.
        const s = roundHalfEven(n === 1 ? 0 : ((Math.max(h, w) - side) * k) / (n - 1));
        const tile = w > h ? cut(src, s, 0, side, side) : cut(src, 0, s, side, side);
        const part = await this.detectSquare(tile);
        for (const b of part.boxes) {
          if (w > h) [b[0], b[2]] = [b[0] + s, b[2] + s];
          else [b[1], b[3]] = [b[1] + s, b[3] + s];
        }
        found.push(part);
      }
    }
    return this.faces(
      found.flatMap((f) => f.boxes),
      found.flatMap((f) => f.scores),
    );
  }

  /** How many detector runs a search of the whole image takes: the image, and the
   * square tiles of one whose sides differ by more than 1.3 times. */
  runs({ width: w, height: h }) {
    const [long, short] = [Math.max(h, w), Math.min(h, w)];
    return long > 1.3 * short ? 1 + Math.ceil(long / short) : 1;
  }

  /** The faces of a frame re-found near their boxes in the frame before (detect.py's
   * BlazeFace.follow): one run a face, on a square around its box. */
  async follow(src, previous) {
    const { input, follow_region: region, follow_iou: minIou, follow_score: minScore } =
      this.settings;
    const boxes = [];
    const scores = [];
    for (const box of previous) {
      const [cx, cy, exact] = cropSquare(box, (region - 1) / 2);
      const side = Math.max(input, roundHalfEven(exact));
      const x0 = roundHalfEven(cx - side / 2);
      const y0 = roundHalfEven(cy - side / 2);
      const part = await this.detectSquare(cut(src, x0, y0, side, side, false), minScore);
      const [x, y, w, h] = box;
      let best = -1;
      part.boxes.forEach((b, i) => {
        [b[0], b[1], b[2], b[3]] = [b[0] + x0, b[1] + y0, b[2] + x0, b[3] + y0];
        const near = iou([x, y, x + w, y + h], b) > minIou;
        if (near && (best < 0 || part.scores[i] > part.scores[best])) best = i;
      });
      if (best >= 0) {
        boxes.push(part.boxes[best]);
        scores.push(part.scores[best]);
      }
    }
    return this.faces(boxes, scores);
  }

  // Faces, largest first, from boxes (x0, y0, x1, y1) and scores after suppression.
  faces(boxes, scores) {
    const faces = [];
    const { nms_iou: maxIou, nms_within: maxWithin } = this.settings;
    for (const i of nonMaxSuppression(boxes, scores, maxIou, maxWithin)) {
      const [x0, y0, x1, y1] = boxes[i];
      if (x1 > x0 && y1 > y0) {
        const box = [x0, y0, x1 - x0, y1 - y0].map(roundHalfEven);
        faces.push({ box, score: scores[i] });
      }
    }
    return faces.sort((a, b) => b.box[2] * b.box[3] - a.box[2] * a.box[3]);
  }

  // One letterboxed square: boxes as x0, y0, x1, y1 in src's pixels, above minScore.
  async detectSquare(src, minScore = this.settings.min_score) {
    const { input } = this.settings;
    const side = Math.max(src.width, src.height);
    const top = Math.floor((side - src.height) / 2);
    const left = Math.floor((side - src.width) / 2);
    const square = cut(src, -left, -top, side, side, false);
    const small = resizeArea(square, input, input);
    const tensor = new Float32Array(input * input * 3);
    for (let i = 0; i < small.data.length; i++) {
      const v = f32(f32(small.data[i]) / f32(127.5)) - 1;
      tensor[3 * i] = tensor[3 * i + 1] = tensor[3 * i + 2] = f32(v);
    }
    const raw = await this.run(tensor);
    const boxes = [];
    const scores = [];
    const stride = raw.boxes.length / (this.anchors.length / 2);
    for (let a = 0; a < this.anchors.length / 2; a++) {
      const logit = Math.min(80, Math.max(-80, raw.scores[a]));
      const score = f32(1 / (1 + Math.exp(-logit)));
      if (!(score > minScore)) continue;
      const r = (k) => f32(raw.boxes[a * stride + k] / input);
      const cx = f32(r(0) + this.anchors[2 * a]);
      const cy = f32(r(1) + this.anchors[2 * a + 1]);
      const hw = f32(r(2) / 2);
      const hh = f32(r(3) / 2);
      const corners = [f32(cx - hw), f32(cy - hh), f32(cx + hw), f32(cy + hh)];
      const shift = [left, top, left, top];
      boxes.push(corners.map((v, k) => f32(v * side) - shift[k]));
      scores.push(score);
    }
    return { boxes, scores };
  }
}

/** A camera's detector (detect.py's Follower): the whole frame searched every `every`
 * frames and, between, each face re-found near its last box; the whole frame too where
 * a face was not re-found, or where following would take as many runs as the search. */
export class Follower {
  constructor(detector, every) {
    this.detector = detector;
    this.every = every;
    this.reset();
  }

  reset() {
    this.faces = [];
    this.since = 0;
  }

  /** {faces, followed}: the faces of the next frame, and the boxes they were followed
   * from (null where the whole frame was searched). */
  async next(src) {
    let following = this.faces.length && this.since + 1 < this.every;
    // A follow costs a run a face: with as many faces as a whole search has runs, the
    // whole search is as cheap and finds new faces too.
    if (following && this.detector.runs) {
      following = this.faces.length < this.detector.runs(src);
    }
    if (following) {
      const followed = this.faces.map((f) => f.box);
      const faces = await this.detector.follow(src, followed);
      // A face lost is looked for in the whole frame at once.
      if (faces.length === followed.length) {
        this.faces = faces;
        this.since += 1;
        return { faces, followed };
      }
    }
    this.faces = await this.detector.detect(src);
    this.since = 0;
    return { faces: this.faces, followed: null };
  }
}
