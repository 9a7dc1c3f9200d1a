"""Square parts of a grey image, with a border beyond it: what the detector's crops and
the framer's input are cut from."""

import cv2

from ferkit import IMAGE_SIZE


def cut(gray, square_, size=IMAGE_SIZE):
    """A (centre x, centre y, side) square of a grey image as size x size uint8 (48x48
    by default), in whole pixels. The border repeats its edge, so a face at the frame's
    edge stays centred."""
    cx, cy, exact = square_
    side = max(1, int(round(exact)))
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    crop = square(gray, x0, y0, side, cv2.BORDER_REPLICATE)
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)


def square(gray, x0, y0, side, border):
    """The side x side part of gray from (x0, y0); beyond the image, an OpenCV border."""
    pad = max(0, -x0, -y0, x0 + side - gray.shape[1], y0 + side - gray.shape[0])
    padded = cv2.copyMakeBorder(gray, pad, pad, pad, pad, border) if pad else gray
    return padded[y0 + pad : y0 + pad + side, x0 + pad : x0 + pad + side]
