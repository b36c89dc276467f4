"""Where each VQA dataset comes from, and how its files become :class:`VQAItem` lists.

Every dataset reads from the Hugging Face hub by default; a local copy in the source's own
release layout overrides the hub: put it in ``$MEDPAIR_DATA_DIR/<folder>/`` (layouts in
:data:`VQA_SOURCES` and the README). A local folder that exists but lacks a file is an error,
never a silent fall-back to the hub.

Only closed-ended questions are kept (Jeong et al., 2024): yes/no questions and questions that
name their alternatives (:func:`~medpair_tasks.vqa.records.closed_options`); SLAKE in English
only; MMMU's multiple-choice questions only. Each reader returns the *source splits* ``train``,
``dev`` (the official validation split, when there is one) and ``test``, plus the store that
reads the images; :mod:`medpair_tasks.vqa.roles` turns splits into medpair's roles.
"""

from __future__ import annotations

import ast
import logging
import pickle
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medpair_tasks.family.sources import (
    LOCAL_READ_ERRORS,
    SourceTable,
    hub_looked_at,
    naming_file,
    read_from_hub,
    read_json,
    read_local,
)
from medpair_tasks.formats import LETTERS
from medpair_tasks.vqa.images import FolderImages, ImageStore, TableImages, ZipImages, image_sha256, open_image, table_ref
from medpair_tasks.vqa.records import VQAItem, closed_options, no_placeholder, normalise

log = logging.getLogger(__name__)

VQASplits = dict[str, tuple[VQAItem, ...]]

#: MMMU's health subjects: medpair dataset suffix → MMMU config name.
MMMU_SUBJECTS: dict[str, str] = {
    "basic_medical_science": "Basic_Medical_Science",
    "clinical_medicine": "Clinical_Medicine",
    "diagnostics_and_laboratory_medicine": "Diagnostics_and_Laboratory_Medicine",
    "pharmacy": "Pharmacy",
    "public_health": "Public_Health",
}
MMMU_IMAGE_COLUMNS = tuple(f"image_{i}" for i in range(1, 8))


@dataclass(frozen=True)
class LoadedSource:
    """A dataset's source splits, the store of its images and how many questions were left out."""

    splits: VQASplits
    images: ImageStore
    dropped: Mapping[str, int]
    _sha: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    def image(self, ref: str):
        """The PIL image ``ref`` (opened lazily)."""
        return open_image(self.images.read(ref))

    def sha256(self, ref: str) -> str:
        """The sha256 of the image ``ref``'s bytes (computed once)."""
        if ref not in self._sha:
            self._sha[ref] = image_sha256(self.images, ref)
        return self._sha[ref]


@dataclass(frozen=True)
class VQASource:
    """One VQA dataset: its folder under ``$MEDPAIR_DATA_DIR``, hub id, layout and readers."""

    name: str
    title: str
    folder: str
    hub_id: str
    hub_config: str | None
    local_layout: str
    how_to_get: str
    read_local: Callable[[Path], LoadedSource]
    read_hub: Callable[[], LoadedSource]


def _sentence(text: object) -> str:
    """Jeong et al.'s clean-up (lower case, single spaces), then a capital first letter."""
    text = no_placeholder(normalise(text))
    return text[:1].upper() + text[1:]


def _first_existing(folder: Path, *names: str) -> Path:
    for name in names:
        if (folder / name).exists():
            return folder / name
    raise FileNotFoundError(" or ".join(str(folder / n) for n in names))


def _closed_item(key: str, question: object, answer: object, images: tuple[str, ...]) -> VQAItem | None:
    choice = closed_options(str(question), str(answer))
    if choice is None:
        return None
    options, answer_idx = choice
    return VQAItem(key, _sentence(question), options, answer_idx, images)


def _collect(rows: Iterable[tuple[str, object, object, tuple[str, ...]]]) -> tuple[tuple[VQAItem, ...], int]:
    items, dropped = [], 0
    for key, question, answer, images in rows:
        item = _closed_item(key, question, answer, images)
        if item is None:
            dropped += 1
        else:
            items.append(item)
    return tuple(items), dropped


def _hub_dataset(hub_id: str, config: str | None, image_columns: Iterable[str]):
    import datasets

    data = datasets.load_dataset(hub_id, config)
    for split in data:
        for column in image_columns:
            if column in data[split].column_names:
                data[split] = data[split].cast_column(column, datasets.Image(decode=False))
    return data


# --------------------------------------------------------------------------- VQA-RAD

VQA_RAD_JSON = "VQA_RAD Dataset Public.json"
VQA_RAD_TRAIN_PHRASES = ("freeform", "para")
VQA_RAD_TEST_PHRASES = ("test_freeform", "test_para")


def _vqa_rad_local(folder: Path) -> LoadedSource:
    """The OSF release: closed questions, split by ``phrase_type``, de-duplicated, no train/test leak."""
    rows = read_json(folder / VQA_RAD_JSON)
    image_dir = _first_existing(folder, "VQA_RAD Image Folder", "images")
    closed = [r for r in rows if normalise(r["answer_type"]) == "closed"]

    def triple(row: dict[str, Any]) -> tuple[str, str, str]:
        return str(row["image_name"]), normalise(row["question"]), normalise(row["answer"])

    def unique(selected: list[dict[str, Any]]) -> list[dict[str, Any]]:
        seen, out = set(), []
        for row in selected:
            if triple(row) not in seen:
                seen.add(triple(row))
                out.append(row)
        return out

    test = unique([r for r in closed if r["phrase_type"] in VQA_RAD_TEST_PHRASES])
    in_test = {triple(r) for r in test}
    train = [r for r in unique([r for r in closed if r["phrase_type"] in VQA_RAD_TRAIN_PHRASES]) if triple(r) not in in_test]
    splits, dropped = {}, {}
    for name, selected in (("train", train), ("test", test)):
        splits[name], dropped[name] = _collect(
            (str(r["qid"]), r["question"], r["answer"], (str(r["image_name"]),)) for r in selected
        )
    dropped["open or duplicate"] = len(rows) - len(train) - len(test)
    return LoadedSource(splits, FolderImages(image_dir), dropped)


def _yes_no_or_named_hub(hub_id: str, split_names: Mapping[str, str]) -> LoadedSource:
    data = _hub_dataset(hub_id, None, ["image"])
    splits, dropped, tables = {}, {}, {}
    for ours, theirs in split_names.items():
        table = data[theirs]
        tables[ours] = table
        text = table.select_columns(["question", "answer"])
        splits[ours], dropped[ours] = _collect(
            (f"{ours}-{i:05d}", row["question"], row["answer"], (table_ref(ours, i, "image"),)) for i, row in enumerate(text)
        )
    return LoadedSource(splits, TableImages(tables), dropped)


def _vqa_rad_hub() -> LoadedSource:
    return _yes_no_or_named_hub("flaviagiammarino/vqa-rad", {"train": "train", "test": "test"})


# --------------------------------------------------------------------------- SLAKE


def _slake_local(folder: Path) -> LoadedSource:
    """The SLAKE release (or the hub copy BoKelvin/SLAKE): English, closed-ended questions."""
    files = {
        "train": _first_existing(folder, "train.json"),
        "dev": _first_existing(folder, "validate.json", "validation.json"),
        "test": _first_existing(folder, "test.json"),
    }
    images_at = _first_existing(folder, "imgs", "imgs.zip")
    images: ImageStore = FolderImages(images_at) if images_at.is_dir() else ZipImages(images_at, ("imgs/", ""))
    splits, dropped = {}, {}
    for split, path in files.items():
        rows = read_json(path)
        english_closed = [r for r in rows if r.get("q_lang") == "en" and str(r.get("answer_type", "")).upper() == "CLOSED"]
        splits[split], dropped[split] = _collect(
            (str(r["qid"]), r["question"], r["answer"], (str(r["img_name"]),)) for r in english_closed
        )
        dropped[split] += len(rows) - len(english_closed)
    return LoadedSource(splits, images, dropped)


def _slake_hub() -> LoadedSource:
    from huggingface_hub import hf_hub_download

    paths = [hf_hub_download("BoKelvin/SLAKE", name, repo_type="dataset") for name in
             ("train.json", "validation.json", "test.json", "imgs.zip")]
    return _slake_local(Path(paths[0]).parent)


# --------------------------------------------------------------------------- PathVQA


class _PlainUnpickler(pickle.Unpickler):
    """Reads pickles of plain lists, dicts, strings and numbers; refuses any other object."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: the PathVQA files hold plain data only")


def _pathvqa_local(folder: Path) -> LoadedSource:
    """The PathVQA release: ``qas/<split>/<split>_qa.pkl`` and ``images/<split>/<image>.jpg``; yes/no only."""
    splits, dropped = {}, {}
    for ours, theirs in (("train", "train"), ("dev", "val"), ("test", "test")):
        path = folder / "qas" / theirs / f"{theirs}_qa.pkl"
        with naming_file(path), path.open("rb") as stream:
            rows = _PlainUnpickler(stream).load()
        yes_no = [(i, r) for i, r in enumerate(rows) if normalise(r["answer"]) in ("yes", "no")]
        splits[ours], dropped[ours] = _collect(
            (f"{ours}-{i:05d}", r["question"], r["answer"], (f"{theirs}/{r['image']}.jpg",)) for i, r in yes_no
        )
        dropped[ours] += len(rows) - len(yes_no)
    return LoadedSource(splits, FolderImages(folder / "images"), dropped)


def _pathvqa_hub() -> LoadedSource:
    loaded = _yes_no_or_named_hub("flaviagiammarino/path-vqa", {"train": "train", "dev": "validation", "test": "test"})
    kept = {s: tuple(i for i in items if i.options == ("yes", "no")) for s, items in loaded.splits.items()}
    dropped = {s: loaded.dropped[s] + len(loaded.splits[s]) - len(kept[s]) for s in kept}
    return LoadedSource(kept, loaded.images, dropped)


# --------------------------------------------------------------------------- MMMU


def _mmmu_items(rows: Iterable[dict[str, Any]], split: str) -> tuple[tuple[VQAItem, ...], int]:
    """Multiple-choice questions; ``<image k>`` in the text becomes ``(image k)``, images go first in order."""
    items, dropped = [], 0

    def text(value: str) -> str:
        return no_placeholder(re.sub(r"<image (\d+)>", r"(image \1)", str(value)).strip())

    for row_index, row in enumerate(rows):
        options = ast.literal_eval(row["options"]) if isinstance(row["options"], str) else list(row["options"])
        answer = str(row["answer"]).strip()
        images = tuple(table_ref(split, row_index, c) for c in MMMU_IMAGE_COLUMNS if row.get(c) is not None)
        if row.get("question_type") != "multiple-choice" or answer not in LETTERS[: len(options)] or not images:
            dropped += 1
            continue
        items.append(VQAItem(str(row["id"]), text(row["question"]), tuple(text(o) for o in options),
                             LETTERS.index(answer), images))
    return tuple(items), dropped


def _mmmu_splits(tables: Mapping[str, Any], rows_of: Callable[[Any], Iterable[dict[str, Any]]]) -> LoadedSource:
    splits, dropped = {}, {}
    for split, table in tables.items():
        splits[split], dropped[split] = _mmmu_items(rows_of(table), split)
    return LoadedSource(splits, TableImages(tables), dropped)


def _mmmu_local(subject: str) -> Callable[[Path], LoadedSource]:
    def read(folder: Path) -> LoadedSource:
        import pyarrow.parquet as pq

        tables = {}
        for ours, theirs in (("train", "dev"), ("test", "validation")):
            files = sorted((folder / subject).glob(f"{theirs}-*.parquet"))
            if not files:
                raise FileNotFoundError(str(folder / subject / f"{theirs}-*.parquet"))
            with naming_file(files[0] if len(files) == 1 else folder / subject):
                tables[ours] = pq.ParquetFile(files[0]).read() if len(files) == 1 else pq.read_table(files)

        def rows_of(table: Any) -> Iterable[dict[str, Any]]:
            """The text fields of each row; an image column says only whether it holds an image (bytes stay put)."""
            text_columns = [c for c in table.column_names if c not in MMMU_IMAGE_COLUMNS]
            present = {c: table.column(c).is_valid().to_pylist() for c in MMMU_IMAGE_COLUMNS if c in table.column_names}
            for i, row in enumerate(table.select(text_columns).to_pylist()):
                yield {**row, **{c: (True if valid[i] else None) for c, valid in present.items()}}

        return _mmmu_splits(tables, rows_of)

    return read


def _mmmu_hub(subject: str) -> Callable[[], LoadedSource]:
    def read() -> LoadedSource:
        data = _hub_dataset("MMMU/MMMU", subject, MMMU_IMAGE_COLUMNS)
        tables = {"train": data["dev"], "test": data["validation"]}
        return _mmmu_splits(tables, lambda table: iter(table))

    return read


# --------------------------------------------------------------------------- registry


def _build_registry() -> dict[str, VQASource]:
    sources = [
        VQASource(
            "vqa_rad", "VQA-RAD (closed-ended)", "vqa_rad", "flaviagiammarino/vqa-rad", None,
            f"'{VQA_RAD_JSON}' and the folder 'VQA_RAD Image Folder' (or 'images')",
            "the VQA-RAD release (osf.io/89kps): 'VQA_RAD Dataset Public.json' and 'VQA_RAD Image Folder/' "
            "into $MEDPAIR_DATA_DIR/vqa_rad/",
            _vqa_rad_local, _vqa_rad_hub,
        ),
        VQASource(
            "slake", "SLAKE (English, closed-ended)", "slake", "BoKelvin/SLAKE", None,
            "train.json, validate.json (or validation.json), test.json and imgs/ (or imgs.zip)",
            "the SLAKE release (med-vqa.com/slake, or the hub repository BoKelvin/SLAKE): train.json, "
            "validate.json, test.json and imgs/ (or imgs.zip) into $MEDPAIR_DATA_DIR/slake/",
            _slake_local, _slake_hub,
        ),
        VQASource(
            "pathvqa", "PathVQA (yes/no)", "pathvqa", "flaviagiammarino/path-vqa", None,
            "qas/{train,val,test}/<split>_qa.pkl and images/{train,val,test}/",
            "the PathVQA release (github.com/UCSD-AI4H/PathVQA): qas/ and images/ into $MEDPAIR_DATA_DIR/pathvqa/",
            _pathvqa_local, _pathvqa_hub,
        ),
    ]
    for suffix, subject in MMMU_SUBJECTS.items():
        sources.append(
            VQASource(
                f"mmmu_{suffix}", f"MMMU {subject.replace('_', ' ')}", "mmmu", "MMMU/MMMU", subject,
                f"{subject}/dev-*.parquet and {subject}/validation-*.parquet (the hub repository's layout)",
                f"a copy of the hub dataset MMMU/MMMU: huggingface-cli download MMMU/MMMU --repo-type dataset "
                f"--include '{subject}/*' --local-dir $MEDPAIR_DATA_DIR/mmmu",
                _mmmu_local(subject), _mmmu_hub(subject),
            )
        )
    return {source.name: source for source in sources}


VQA_SOURCES: dict[str, VQASource] = _build_registry()


#: What a VQA reader may raise for a file off its schema, besides the shared errors.
VQA_READ_ERRORS = (*LOCAL_READ_ERRORS, TypeError, SyntaxError, pickle.UnpicklingError)


def _read(name: str, source: VQASource, folder: str) -> LoadedSource:
    """A dataset's source splits and images from its local copy in ``folder`` if that exists, else the hub."""
    if folder and Path(folder).is_dir():
        looked_at = f"{folder} (expects {source.local_layout})"
        loaded = read_local(name, Path(folder), looked_at, source.how_to_get, source.read_local, VQA_READ_ERRORS)
        log.info("%s read from %s (left out: %s)", name, folder, dict(loaded.dropped))
        return loaded
    return read_from_hub(name, hub_looked_at(source.hub_id, source.hub_config, folder), source.how_to_get, source.read_hub)


#: The VQA datasets, read once per data folder.
TABLE: SourceTable[VQASource, LoadedSource] = SourceTable("VQA", VQA_SOURCES, lambda row: row.folder, _read)


def local_folder(name: str) -> Path | None:
    """``$MEDPAIR_DATA_DIR/<folder>`` of a VQA dataset, or None when the variable is unset."""
    return TABLE.folder(name)


def load_vqa_source(name: str) -> LoadedSource:
    """The source splits and images of a VQA dataset, from ``$MEDPAIR_DATA_DIR`` if present, else the hub.

    Raises :class:`~medpair_tasks.family.sources.DataUnavailable` naming the paths looked at and
    where to get the data.
    """
    return TABLE.load(name)
