"""Expert evidence (VILA-M3's idea, measured): an expert model's findings in the prompt.

An *evidence file* holds, per item, the text findings of an expert imaging model (a
classifier's labels, a segmentation summary, …). It is JSON lines, one object per item::

    {"item_key": "test-00012", "evidence": "pleural effusion: present (p = 0.91)"}
    {"dataset": "slake", "item_key": "1042", "evidence": "organs: liver, spleen"}

``item_key`` is the item's key in medpair's logs (``doc["item_key"]``); ``dataset`` is
optional and restricts a line to one dataset, so one file can serve several datasets (a line
without it applies to every dataset). The text fills the prompt's findings slot of that item,
demonstrations included; an item without a line gets no slot.

A run uses a file through task metadata: ``--metadata '{"evidence_file": "findings.jsonl"}'``.
The task records in its metadata (lm-eval's results file, ``configs[<task>]["metadata"]``)
``evidence`` (true/false), ``evidence_sha256`` (of the file's bytes), ``evidence_scored`` and
``evidence_missing`` (scored items with and without findings), so logs with and without
evidence are told apart and a comparison can check that both sides used the same file. The
documents themselves do not change: the same item has the same ``doc_hash`` with and without
evidence, which is what lets ``medpair compare`` pair the two runs item by item.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from medpair_tasks.vqa.records import no_placeholder

EVIDENCE_FILE_KEY = "evidence_file"


@dataclass(frozen=True)
class Evidence:
    """The findings of one evidence file: ``(dataset or None, item_key) → text``."""

    path: str
    sha256: str
    findings: Mapping[tuple[str | None, str], str]

    def for_item(self, dataset: str, item_key: str) -> str:
        """The findings of an item ("" when the file has none): a dataset's own line wins."""
        return self.findings.get((dataset, item_key)) or self.findings.get((None, item_key), "")

    def entries_for(self, dataset: str) -> int:
        """How many lines apply to ``dataset``."""
        return sum(1 for entry_dataset, _ in self.findings if entry_dataset in (None, dataset))


def _line(obj: Any, where: str) -> tuple[tuple[str | None, str], str]:
    if not isinstance(obj, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    key, text, dataset = obj.get("item_key"), obj.get("evidence"), obj.get("dataset")
    if isinstance(key, bool) or not isinstance(key, (str, int)) or str(key) == "":
        raise ValueError(f"{where}: 'item_key' must be a non-empty string")
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{where}: 'evidence' must be a non-empty string")
    if dataset is not None and not isinstance(dataset, str):
        raise ValueError(f"{where}: 'dataset' must be a string when given")
    unknown = set(obj) - {"item_key", "evidence", "dataset"}
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {sorted(unknown)} (allowed: item_key, evidence, dataset)")
    return (dataset, str(key)), no_placeholder(" ".join(text.split()))


@lru_cache(maxsize=8)
def _parse(path: str, digest: str, data: bytes) -> Evidence:
    findings: dict[tuple[str | None, str], str] = {}
    for number, raw in enumerate(data.decode("utf-8").splitlines(), 1):
        if not raw.strip():
            continue
        where = f"{path}:{number}"
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as err:
            raise ValueError(f"{where}: not a JSON line ({err.msg})") from err
        key, text = _line(obj, where)
        if key in findings:
            raise ValueError(f"{where}: a second line for item {key[1]!r}" + (f" of {key[0]}" if key[0] else ""))
        findings[key] = text
    if not findings:
        raise ValueError(f"{path}: no evidence lines")
    return Evidence(path, digest, findings)


def read_evidence(path: str | Path) -> Evidence:
    """Read and check an evidence file (see the module doc); raises ValueError naming the bad line."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise FileNotFoundError(f"medpair: evidence file {file} does not exist")
    data = file.read_bytes()
    return _parse(str(file), hashlib.sha256(data).hexdigest(), data)


def evidence_from_metadata(metadata: Mapping[str, Any]) -> Evidence | None:
    """The evidence file a task's metadata names (``evidence_file``), or None."""
    path = metadata.get(EVIDENCE_FILE_KEY)
    return read_evidence(str(path)) if path else None


def evidence_metadata(evidence: Evidence | None) -> dict[str, Any]:
    """What a task records about its evidence in its metadata (before coverage is known)."""
    return {
        "evidence": evidence is not None,
        EVIDENCE_FILE_KEY: evidence.path if evidence else None,
        "evidence_sha256": evidence.sha256 if evidence else None,
    }
