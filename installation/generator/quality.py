"""Quality figures for generated images that need no downloaded network.

FID and LPIPS need pretrained networks, which this engine never downloads. These figures are
measured on the pixels themselves instead, always against the training images in the same run:

- **sharpness ratio**: mean Laplacian energy of the generated images over that of the training
  images (1: as crisp as the data; a VAE's blur gives much less);
- **diversity ratio**: mean pairwise distance among generated images over that among training
  images (near 0: one image over and over, i.e. mode collapse);
- **memorisation ratio**: median distance from each generated image to its nearest training
  image (flips included) over the median nearest-neighbour distance among the training images
  themselves (well below 1: copies of the training set; near or above 1: new images);
- **shape-validity rate** (procedural shapes only): the share of images that hold one clean,
  filled, convex, regular shape, judged from image moments (see :func:`shape_validity`).

Also the procedural dataset that makes the shape score meaningful (:func:`make_shapes`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage
from scipy.spatial import ConvexHull, QhullError

SHAPES = ("circle", "square", "triangle")


def make_shapes(folder: Path, count: int = 240, size: int = 64, seed: int = 0) -> list[Path]:
    """Write ``count`` PNGs of one filled, anti-aliased coloured shape on a plain background.

    Circles, squares and equilateral triangles (every one isotropic in its second moments),
    random position, size, rotation and colours (the shape always contrasts with the
    background). Seeded: the same call writes the same files.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    scale = 4  # drawn 4x larger, then Lanczos-reduced: smooth but sharp edges
    big = size * scale
    paths = []
    for i in range(count):
        kind = SHAPES[i % len(SHAPES)]
        background = rng.uniform(0, 255, 3)
        colour = rng.uniform(0, 255, 3)
        while np.linalg.norm(colour - background) < 160:
            colour = rng.uniform(0, 255, 3)
        radius = rng.uniform(0.18, 0.32) * big
        cx, cy = rng.uniform(radius * 1.05, big - radius * 1.05, 2)
        angle = rng.uniform(0, 2 * math.pi)
        image = Image.new("RGB", (big, big), tuple(int(v) for v in background))
        draw = ImageDraw.Draw(image)
        fill = tuple(int(v) for v in colour)
        if kind == "circle":
            draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=fill)
        else:
            n = 4 if kind == "square" else 3
            points = [(cx + radius * math.cos(angle + 2 * math.pi * k / n),
                       cy + radius * math.sin(angle + 2 * math.pi * k / n)) for k in range(n)]
            draw.polygon(points, fill=fill)
        path = folder / f"{kind}_{i:04d}.png"
        image.resize((size, size), Image.Resampling.LANCZOS).save(path)
        paths.append(path)
    return paths


@dataclass(frozen=True)
class ShapeVerdict:
    """Why an image does or does not hold a valid shape."""

    valid: bool
    area: float  # share of the image covered by the shape
    components: float  # share of the foreground in its largest connected component
    solidity: float  # area over convex-hull area (1: convex and filled)
    isotropy: float  # smaller over larger eigenvalue of the second central moments
    invariant: float  # (mu20 + mu02) / mu00^2: 1/(2 pi) circle, 1/6 square, 0.192 triangle
    colour_spread: float  # std of the shape's colour, 0..1 units

    @property
    def kind(self) -> str | None:
        """Which of :data:`SHAPES` a valid shape is, by its moment invariant; None if invalid.

        The cuts (0.163, 0.18) sit halfway between the three shapes' values, so a generator
        that draws only discs shows as such instead of passing on validity alone.
        """
        if not self.valid:
            return None
        if self.invariant < 0.163:
            return "circle"
        return "square" if self.invariant < 0.18 else "triangle"


def _foreground(image: np.ndarray) -> tuple[np.ndarray, float]:
    """Mask of what differs from the background (estimated from the border), and contrast."""
    rgb = image.astype(np.float64) / 255.0
    border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]])
    background = np.median(border, axis=0)
    distance = np.linalg.norm(rgb - background, axis=2)
    # Otsu's threshold on the distance map: what splits the image best into two classes.
    hist, edges = np.histogram(distance, bins=64)
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * centres) / np.maximum(w0, 1)
    m1 = (np.sum(hist * centres) - np.cumsum(hist * centres)) / np.maximum(w1, 1)
    threshold = centres[np.argmax(w0 * w1 * (m0 - m1) ** 2)]
    return distance > threshold, float(distance.max())


def shape_validity(image: np.ndarray) -> ShapeVerdict:
    """Judge one ``(H, W, 3)`` uint8 image: does it hold one clean, regular, filled shape?

    Valid when the foreground (what differs from the border's colour, Otsu-thresholded)
    covers 3-60% of the image, 95% of it is one connected piece, it is convex and filled
    (solidity >= 0.85), its second central moments are isotropic (eigenvalue ratio >= 0.7, as
    for any regular polygon or circle), its moment invariant ``(mu20 + mu02) / mu00^2`` lies
    in 0.15-0.21 (circle 0.159, square 0.167, triangle 0.192; ragged or hollow blobs are
    larger), and its colour is uniform (std <= 0.12).
    """
    mask, contrast = _foreground(image)
    area = float(mask.mean())
    invalid = ShapeVerdict(False, area, 0.0, 0.0, 0.0, 0.0, 1.0)
    if contrast < 0.2 or not 0.03 <= area <= 0.6:
        return invalid
    labels, _ = ndimage.label(mask)
    sizes = np.bincount(labels.ravel())[1:]
    biggest = int(np.argmax(sizes)) + 1
    components = float(sizes.max() / sizes.sum())
    blob = labels == biggest
    ys, xs = np.nonzero(blob)
    try:
        hull = ConvexHull(np.column_stack([xs, ys]).astype(float))
        # Hull of pixel centres; add the half-pixel rim (perimeter / 2) to compare with a count.
        solidity = float(blob.sum() / (hull.volume + hull.area / 2 + 1.0))
    except QhullError:
        return invalid
    m00 = float(blob.sum())
    dx, dy = xs - xs.mean(), ys - ys.mean()
    mu20, mu02, mu11 = float((dx * dx).sum()), float((dy * dy).sum()), float((dx * dy).sum())
    eig = np.linalg.eigvalsh(np.array([[mu20, mu11], [mu11, mu02]]))
    isotropy = float(eig[0] / eig[1]) if eig[1] > 0 else 0.0
    invariant = (mu20 + mu02) / (m00 * m00)
    colour_spread = float((image[blob].astype(np.float64) / 255.0).std(axis=0).mean())
    valid = (components >= 0.95 and solidity >= 0.85 and isotropy >= 0.7
             and 0.15 <= invariant <= 0.21 and colour_spread <= 0.12)
    return ShapeVerdict(valid, area, components, solidity, isotropy, invariant, colour_spread)


def laplacian_energy(images: np.ndarray) -> float:
    """Mean squared 4-neighbour Laplacian of the grey images ``(N, H, W, 3)`` uint8 (0..1)."""
    grey = images.astype(np.float64).mean(axis=3) / 255.0
    lap = (grey[:, 1:-1, :-2] + grey[:, 1:-1, 2:] + grey[:, :-2, 1:-1] + grey[:, 2:, 1:-1]
           - 4 * grey[:, 1:-1, 1:-1])
    return float((lap * lap).mean())


def _flat(images: np.ndarray) -> np.ndarray:
    return images.reshape(images.shape[0], -1).astype(np.float64) / 255.0


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """RMS pixel distance (0..1 units) between every row of ``a`` and of ``b``."""
    d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.maximum(d2, 0.0) / a.shape[1])


def mean_pairwise(images: np.ndarray) -> float:
    """Mean RMS distance between distinct images."""
    x = _flat(images)
    d = _distances(x, x)
    n = len(x)
    return float(d.sum() / (n * (n - 1))) if n > 1 else 0.0


def nearest_training(generated: np.ndarray, training: np.ndarray) -> np.ndarray:
    """RMS distance of each generated image to its nearest training image or its mirror."""
    train = np.concatenate([training, training[:, :, ::-1]])
    return _distances(_flat(generated), _flat(train)).min(axis=1)


def training_nearest(training: np.ndarray) -> np.ndarray:
    """Each training image's distance to its nearest *other* training image (or mirror)."""
    x = _flat(training)
    mirrored = _flat(training[:, :, ::-1])
    d = np.minimum(_distances(x, x), _distances(x, mirrored))
    np.fill_diagonal(d, np.inf)
    return d.min(axis=1)


@dataclass(frozen=True)
class QualityReport:
    """The figures of one set of generated images against its training images."""

    sharpness_ratio: float
    diversity_ratio: float
    memorisation_ratio: float
    nearest_median: float
    copies: float  # share of generated images within 0.02 RMS of a training image
    validity: float | None  # shape-validity rate (None: not a shape dataset)
    training_validity: float | None
    # share of the generated images valid as each of SHAPES (they sum to validity)
    validity_by_kind: dict[str, float] | None = None

    def as_dict(self) -> dict:
        def rounded(v):
            if isinstance(v, dict):
                return {k: round(x, 4) for k, x in v.items()}
            return None if v is None else round(v, 4)
        return {k: rounded(v) for k, v in self.__dict__.items()}


def quality(generated: np.ndarray, training: np.ndarray, shapes: bool = False) -> QualityReport:
    """Every figure for ``generated`` against ``training`` (both ``(N, S, S, 3)`` uint8)."""
    nearest = nearest_training(generated, training)
    validity = training_validity = by_kind = None
    if shapes:
        kinds = [shape_validity(im).kind for im in generated]
        validity = float(np.mean([k is not None for k in kinds]))
        by_kind = {name: kinds.count(name) / len(kinds) for name in SHAPES}
        training_validity = float(np.mean([shape_validity(im).valid for im in training]))
    return QualityReport(
        sharpness_ratio=laplacian_energy(generated) / laplacian_energy(training),
        diversity_ratio=mean_pairwise(generated) / mean_pairwise(training),
        memorisation_ratio=float(np.median(nearest) / np.median(training_nearest(training))),
        nearest_median=float(np.median(nearest)),
        copies=float(np.mean(nearest < 0.02)),
        validity=validity, training_validity=training_validity, validity_by_kind=by_kind,
    )


PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry",
          "hubble_deep_field", "retina", "motorcycle_left")


def make_photos(folder: Path, count: int = 240, size: int = 64, seed: int = 0) -> list[Path]:
    """Write ``count`` PNG crops of the colour photographs that ship inside scikit-image.

    Each crop: a seeded photograph, a square of 35-70% of its shorter side at a seeded place,
    mirrored half of the time, Lanczos-resized to ``size``. Nothing is downloaded: these
    photographs are files of the installed package (``skimage.data``).
    """
    try:
        from skimage import data
    except ImportError:
        raise RuntimeError("the photographs dataset needs scikit-image: "
                           "pip install -e '.[test]'") from None
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    photos = []
    for name in PHOTOS:
        try:
            photo = getattr(data, name)()
        except Exception:  # a photograph this scikit-image does not ship without a download
            continue
        if photo.ndim == 3 and photo.shape[2] >= 3:
            photos.append((name, Image.fromarray(np.ascontiguousarray(photo[..., :3]))))
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        name, photo = photos[i % len(photos)]
        w, h = photo.size
        side = int(min(w, h) * rng.uniform(0.35, 0.7))
        left, top = int(rng.integers(0, w - side + 1)), int(rng.integers(0, h - side + 1))
        crop = photo.resize((size, size), Image.Resampling.LANCZOS,
                            box=(left, top, left + side, top + side))
        if rng.random() < 0.5:
            crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        path = folder / f"{name}_{i:04d}.png"
        crop.save(path)
        paths.append(path)
    return paths
