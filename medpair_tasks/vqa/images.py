"""Where a VQA dataset's images live, read lazily by reference.

A document names its images by *reference* (a string), never by value: lm-eval fingerprints
each logged document (``doc_hash`` = sha256 of its JSON), and a decoded image would print as
``<PIL.Image ... at 0x7f…>``, a different hash in every run. The image store of the dataset's
source turns a reference into bytes; :func:`open_image` turns bytes into a PIL image.

Stores: :class:`FolderImages` (files under a folder), :class:`ZipImages` (members of a zip
archive), :class:`TableImages` (an image column of a table: a Hugging Face ``Dataset`` with
undecoded images, or a pyarrow table read from parquet).
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol


class ImageStore(Protocol):
    """Anything that reads an image's bytes from its reference."""

    def read(self, ref: str) -> bytes:
        """The encoded bytes (PNG, JPEG, …) of the image ``ref``; KeyError when unknown."""
        ...


class FolderImages:
    """Images as files under ``root``; a reference is the path relative to ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()

    def read(self, ref: str) -> bytes:
        path = (self.root / ref).resolve()
        if self.root not in path.parents:
            raise KeyError(f"image reference {ref!r} leaves {self.root}")
        if not path.is_file():
            raise KeyError(f"no image file {path}")
        return path.read_bytes()


class ZipImages:
    """Images as members of a zip archive; a reference is the path inside the archive's image folder.

    ``prefixes`` are tried in order (``imgs/`` for SLAKE's ``imgs.zip``), then any member whose
    name ends with ``/<ref>``.
    """

    def __init__(self, archive: Path, prefixes: tuple[str, ...] = ("",)) -> None:
        self.archive = Path(archive)
        self.prefixes = prefixes
        with zipfile.ZipFile(self.archive) as archive_file:
            self._names = {name for name in archive_file.namelist() if not name.endswith("/")}

    def _member(self, ref: str) -> str:
        for prefix in self.prefixes:
            if prefix + ref in self._names:
                return prefix + ref
        matches = sorted(name for name in self._names if name.endswith("/" + ref))
        if len(matches) != 1:
            raise KeyError(f"{self.archive}: {len(matches)} members match image {ref!r}")
        return matches[0]

    def read(self, ref: str) -> bytes:
        with zipfile.ZipFile(self.archive) as archive_file:
            return archive_file.read(self._member(ref))


def table_ref(split: str, row: int, column: str) -> str:
    """The reference of the image in ``column`` of row ``row`` of table ``split``."""
    return f"{split}/{row}/{column}"


class TableImages:
    """Images in columns of tables (one per split); a reference is ``split/row/column``.

    A table is a Hugging Face ``Dataset`` whose image columns are cast to ``Image(decode=False)``
    or a pyarrow table read from parquet; a cell is ``{"bytes": ..., "path": ...}``.
    """

    def __init__(self, tables: Mapping[str, Any]) -> None:
        self.tables = dict(tables)

    def _cell(self, split: str, row: int, column: str) -> Any:
        table = self.tables[split]
        if hasattr(table, "column_names") and hasattr(table, "slice"):  # pyarrow.Table
            return table.column(column)[row].as_py()
        return table[row][column]  # datasets.Dataset

    def read(self, ref: str) -> bytes:
        split, row, column = ref.rsplit("/", 2)
        cell = self._cell(split, int(row), column)
        if isinstance(cell, Mapping):
            if cell.get("bytes"):
                return bytes(cell["bytes"])
            if cell.get("path") and Path(cell["path"]).is_file():
                return Path(cell["path"]).read_bytes()
        if isinstance(cell, (bytes, bytearray)):
            return bytes(cell)
        raise KeyError(f"no image in {ref!r}")


def open_image(data: bytes):
    """A PIL image of encoded bytes, opened lazily (pixels are decoded when first used)."""
    from PIL import Image

    return Image.open(io.BytesIO(data))


def image_sha256(store: ImageStore, ref: str) -> str:
    """The sha256 of the image's bytes: its identity in logs and clusters."""
    return hashlib.sha256(store.read(ref)).hexdigest()
