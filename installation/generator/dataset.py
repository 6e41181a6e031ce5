"""The artist's image folder as a training set: Pillow-decoded, centre-cropped, hashed."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from installation.errors import UserError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")


class DatasetError(UserError):
    """The training folder is missing, empty, or holds an unreadable image."""


def image_files(folder: Path) -> list[Path]:
    """Image files under ``folder`` (recursively), sorted so order and hash are stable."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: image folder not found")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DatasetError(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)})")
    return files


def load_image(path: Path, size: int) -> np.ndarray:
    """One image as ``(size, size, 3)`` uint8: RGB, centre-cropped square, Lanczos-resized."""
    try:
        with Image.open(path) as image:
            image = image.convert("RGB")
            w, h = image.size
            side = min(w, h)
            box = ((w - side) // 2, (h - side) // 2, (w - side) // 2 + side, (h - side) // 2 + side)
            image = image.resize((size, size), Image.Resampling.LANCZOS, box=box)
            return np.array(image, dtype=np.uint8)  # writable: torch.from_numpy needs it
    except (UnidentifiedImageError, OSError) as error:
        raise DatasetError(f"{path}: cannot read image ({error})") from None


def load_folder(folder: Path, size: int) -> tuple[np.ndarray, str]:
    """All images of ``folder`` as ``(N, size, size, 3)`` uint8, and a SHA-256 of the data.

    The hash covers each file's relative name and bytes, so a checkpoint can say exactly
    which images made it.
    """
    files = image_files(folder)
    digest = hashlib.sha256()
    images = []
    for path in files:
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(path.read_bytes())
        images.append(load_image(path, size))
    return np.stack(images), digest.hexdigest()
