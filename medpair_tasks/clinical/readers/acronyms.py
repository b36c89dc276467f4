"""Acronym-sense datasets: CASI (University of Minnesota) and MIMIC-III reverse substitution."""

from __future__ import annotations

import csv
import logging
from collections import Counter, OrderedDict
from pathlib import Path

from medpair_tasks.clinical.readers.files import SourceSplits, big_csv_fields
from medpair_tasks.clinical.records import ClinicalItem
from medpair_tasks.family.sources import first_existing, read_json
from medpair_tasks.formats import LETTERS

log = logging.getLogger(__name__)

MAX_OPTIONS = len(LETTERS)


CASI_FILE = "AnonymizedClinicalAbbreviationsAndAcronymsDataSet.txt"
# CASI annotation flags that are not an expansion of the abbreviation
CASI_NOT_A_SENSE = frozenset({"UNSURED SENSE", "GENERAL ENGLISH", "NAME"})


def acronym_question(short_form: str) -> str:
    """The question of an acronym item (after Jeong et al.)."""
    return f'What is the correct expansion of the abbreviation "{short_form}" in the clinical note snippet?'


def _option_sets(pairs: list[tuple[str, str]], inventory: dict[str, list[str]] | None) -> dict[str, tuple[str, ...]]:
    """Per short form, its options: the inventory's senses (or those seen), at most MAX_OPTIONS.

    More senses than letters: the most frequent in the data are kept (ties in inventory order);
    items whose gold sense falls outside are dropped by the caller. Options are sorted
    alphabetically, so that the letter says nothing about frequency.
    """
    seen = Counter(pairs)
    by_sf: dict[str, list[str]] = OrderedDict()
    for acronym, sense in pairs:
        by_sf.setdefault(acronym, [])
        if inventory is None and sense not in by_sf[acronym]:
            by_sf[acronym].append(sense)
    if inventory is not None:
        for acronym in by_sf:
            by_sf[acronym] = list(dict.fromkeys(inventory.get(acronym, [])))
    result = {}
    for acronym, senses in by_sf.items():
        if len(senses) > MAX_OPTIONS:
            order = {s: i for i, s in enumerate(senses)}
            senses = sorted(senses, key=lambda s: (-seen[(acronym, s)], order[s]))[:MAX_OPTIONS]
        result[acronym] = tuple(sorted(senses, key=str.casefold))
    return result


def _acronym_items(rows: list[tuple[str, str, str, str]], inventory: dict[str, list[str]] | None, source: str) -> list[ClinicalItem]:
    """(key, short form, gold sense, context) rows → items; short forms with one sense are dropped."""
    options = _option_sets([(acronym, sense) for _, acronym, sense, _ in rows], inventory)
    items, dropped = [], Counter()
    for key, acronym, sense, context in rows:
        choices = options.get(acronym, ())
        if len(choices) < 2 or sense not in choices:
            dropped[acronym] += 1
            continue
        items.append(
            ClinicalItem(
                key=key,
                question=acronym_question(acronym),
                options=choices,
                answer_idx=choices.index(sense),
                context=context,
                stratum=acronym,
            )
        )
    if dropped:
        log.info("%s: %d rows dropped (a single sense, or a sense outside the %d options kept)", source, sum(dropped.values()), MAX_OPTIONS)
    if not items:
        raise ValueError(f"{source}: no usable rows")
    return items


def read_casi(folder: Path) -> SourceSplits:
    """CASI (Moon et al., 2014, University of Minnesota): the pipe-delimited release file.

    Fields per line, no header, Windows-1252: abbreviation | sense | abbreviation as written |
    start | end | section | sample text. Rows whose sense is an annotation flag
    (:data:`CASI_NOT_A_SENSE`) are not items; the options of an abbreviation are its senses in
    the release.
    """
    path = first_existing(folder, CASI_FILE)
    rows = []
    with path.open(encoding="cp1252", newline="") as source:
        for number, line in enumerate(source, 1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            fields = line.split("|", 6)
            if len(fields) != 7:
                raise ValueError(f"{path}:{number}: expected 7 '|'-separated fields, found {len(fields)}")
            acronym, sense, _rep, _start, _end, _section, sample = fields
            if sense.strip() in CASI_NOT_A_SENSE or sense.startswith("MISTAKE"):
                continue
            rows.append((f"line{number:05d}", acronym.strip(), sense.strip(), sample.strip()))
    return {"all": _acronym_items(rows, None, str(path))}


MIMIC_ACRONYM_FILE = "mimic_rs_dataset_preprocessed_window_10.csv"
SENSE_MAP_FILE = "sf_lf_map.json"


def readable_sense(long_form: str) -> str:
    """A sense inventory entry ``"discontinue;discontinued"`` as ``"discontinue / discontinued"``."""
    variants = [v.strip() for v in long_form.split(";") if v.strip()]
    if len(variants) <= 1:
        return long_form.strip()
    return " / ".join(dict.fromkeys(v.lower() for v in variants))


@big_csv_fields
def read_mimic3_acronym(folder: Path) -> SourceSplits:
    """MIMIC-III acronym senses: the reverse-substitution data set of Adams et al. (2020).

    ``mimic_rs_dataset_preprocessed_window_10.csv`` (columns ``sf``, ``target_lf_sense``,
    ``context``; ``row_idx`` when present keys the items) and ``sf_lf_map.json`` (short form →
    its sense inventory), as written by the LMC repository's pipeline from MIMIC-III
    NOTEEVENTS.csv.
    """
    path = first_existing(folder, MIMIC_ACRONYM_FILE)
    inventory_raw = read_json(first_existing(folder, SENSE_MAP_FILE))
    if not isinstance(inventory_raw, dict):
        raise ValueError(f"{folder / SENSE_MAP_FILE}: expected an object short form → list of senses")
    inventory = {acronym: [readable_sense(long_form) for long_form in long_forms]
                 for acronym, long_forms in inventory_raw.items()}
    rows = []
    with path.open(encoding="utf-8", newline="") as source:
        reader = csv.DictReader(source)
        missing = {"sf", "target_lf_sense", "context"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: no column {', '.join(sorted(missing))}")
        for number, row in enumerate(reader):
            key = f"row{row['row_idx']}" if row.get("row_idx") not in (None, "") else f"line{number:06d}"
            rows.append((key, row["sf"].strip(), readable_sense(row["target_lf_sense"]), row["context"].strip()))
    keys = Counter(k for k, *_ in rows)
    if len(keys) != len(rows):
        raise ValueError(f"{path}: row_idx is not unique")
    return {"all": _acronym_items(rows, inventory, str(path))}
