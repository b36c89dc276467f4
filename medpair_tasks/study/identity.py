"""What a study's results depend on — the models and the data — and how a shard proves it belongs.

A shard of ``medpair run`` is the output of one model on one version of the data. Every shard
folder carries ``identity.json`` (written in the shard's temporary folder, so it appears in
the same rename as the logs); a finished shard is reused only when its identity equals the
one this command would write, field by field.

The identity of a model is its lm-eval model type and the model args that change results
(execution-only args such as ``device`` or ``batch_size`` are left out), its dtype, and for
every path-like argument (``pretrained``, ``peft``, ...) either

- a local folder: its resolved path and a content fingerprint (sha256 over ``config.json`` /
  ``adapter_config.json``, the weight files' names and sizes, and evenly spaced samples of their
  bytes: a few MiB read whatever the model's size, unchanged by copying the folder), or
- a hub id: the id and the requested ``revision`` (``main`` unless given; pin a commit for an
  exact identity).

The identity of the data is, per dataset, a sha256 over the scored items of both roles (keys,
text, options, answers, in order) and the few-shot pool, plus medpair's task version.
Execution settings (``--batch-size``, ``--max-batch-size``, ``--device``) are not part of it,
so a run that crashed for lack of memory resumes with a smaller batch.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from medpair_tasks.family.roles import pick_role
from medpair_tasks.knowledge.records import Item
from medpair_tasks.knowledge.roles import roles
from medpair_tasks.study.spec import ModelSpec
from medpair_tasks.taskspec import TASK_VERSION

IDENTITY_FILE = "identity.json"
# Model args that decide where and how fast a model runs, not what it answers.
EXECUTION_ARGS = frozenset({
    "device", "batch_size", "max_batch_size", "parallelize", "device_map", "max_memory_per_gpu",
    "max_cpu_memory", "offload_folder", "gpu_memory_utilization", "tensor_parallel_size", "data_parallel_size",
})
# Model args that name a model, an adapter or a tokenizer: a local folder or a hub id.
LOCATION_ARGS = ("pretrained", "model", "peft", "delta", "tokenizer", "lora_local_path")
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf", ".ckpt")
METADATA_FILES = ("config.json", "adapter_config.json", "model.safetensors.index.json", "pytorch_model.bin.index.json")
N_SAMPLES = 16  # byte samples per weight file
SAMPLE_BYTES = 64 * 1024


def _file_samples(path: Path, digest: Any) -> None:
    """Feed ``N_SAMPLES`` evenly spaced chunks of ``path`` (all of it when small) into ``digest``."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        if size <= N_SAMPLES * SAMPLE_BYTES:
            digest.update(handle.read())
            return
        step = (size - SAMPLE_BYTES) // (N_SAMPLES - 1)
        for number in range(N_SAMPLES):
            handle.seek(number * step)
            digest.update(handle.read(SAMPLE_BYTES))


def folder_fingerprint(folder: Path) -> str:
    """sha256 over a model folder's config files and its weight files' names, sizes and sampled bytes."""
    digest = hashlib.sha256()
    for name in METADATA_FILES:
        if (folder / name).is_file():
            digest.update(f"{name}\n".encode())
            digest.update((folder / name).read_bytes())
    weights = sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith(WEIGHT_SUFFIXES))
    for path in weights:  # the folder's own files: checkpoint-* subfolders beside a model are not the model
        digest.update(f"{path.name}:{path.stat().st_size}\n".encode())
        _file_samples(path, digest)
    return digest.hexdigest()


def _location(value: str, revision: str, subfolder: str = "") -> dict[str, str]:
    """A local folder (path and fingerprint of the model in it) or a hub id (id and revision)."""
    path = Path(value).expanduser()
    if subfolder and (path / subfolder).is_dir():
        return {"path": str(path.resolve()), "fingerprint": folder_fingerprint(path / subfolder)}
    if path.is_dir():
        return {"path": str(path.resolve()), "fingerprint": folder_fingerprint(path)}
    if path.is_file():
        digest = hashlib.sha256()
        _file_samples(path, digest)
        return {"path": str(path.resolve()), "fingerprint": digest.hexdigest()}
    return {"hub_id": value, "revision": revision}


def model_identity(spec: ModelSpec) -> dict[str, Any]:
    """The identity of one model (see the module docstring): type, result-changing args, dtype, locations."""
    args = {key: value for key, value in spec.args.items() if key not in EXECUTION_ARGS}
    revision = args.get("revision", "main")
    locations = {key: _location(args[key], revision) for key in LOCATION_ARGS if args.get(key)}
    if args.get("pretrained") and args.get("subfolder"):
        locations["pretrained"] = _location(args["pretrained"], revision, args["subfolder"])
    return {
        "type": spec.model_type,
        "args": args,
        "dtype": args.get("dtype") or args.get("torch_dtype") or "default",
        "locations": locations,
    }


def result_args(spec: ModelSpec) -> str:
    """The model args without execution-only ones, as written: the model's name in the manifest."""
    kept = [part for part in spec.model_args.split(",") if part and part.split("=", 1)[0].strip() not in EXECUTION_ARGS]
    return f"{spec.model_type}:{','.join(kept)}"


def items_digest(items: Iterable[Item]) -> str:
    """sha256 over items in order: keys, context, question, options and answers."""
    digest = hashlib.sha256()
    for item in items:
        digest.update(json.dumps([item.key, item.context, item.question, list(item.options), item.answer_idx],
                                 ensure_ascii=False).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def data_identity(datasets: Iterable[str], val_limit: int) -> dict[str, Any]:
    """Per dataset, digests of the validation subsample, the test items and the few-shot pool; the task version."""
    identity: dict[str, Any] = {"task_version": TASK_VERSION}
    for dataset in datasets:
        parts = roles(dataset)
        identity[dataset] = {"val": items_digest(pick_role(parts, "val", val_limit)), "test": items_digest(parts.test),
                             "fewshot_pool": items_digest(parts.pool)}
    return identity


def differences(saved: Any, current: Any, prefix: str = "") -> list[str]:
    """Dotted names of the fields that differ, with both values: ``models.medical.dtype: 'a' here, 'b' there``."""
    if isinstance(saved, dict) and isinstance(current, dict):
        found: list[str] = []
        for key in sorted(set(saved) | set(current), key=str):
            name = f"{prefix}.{key}" if prefix else str(key)
            if key not in saved:
                found.append(f"{name}: missing there, {current[key]!r} in this command")
            elif key not in current:
                found.append(f"{name}: {saved[key]!r} there, missing in this command")
            else:
                found += differences(saved[key], current[key], name)
        return found
    if saved != current:
        return [f"{prefix or 'identity'}: {saved!r} there, {current!r} in this command"]
    return []


def read_identity(folder: Path) -> dict[str, Any] | None:
    """The identity a finished shard (or report) folder was made with, or None when it has none (an older medpair)."""
    path = folder / IDENTITY_FILE
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def write_identity(folder: Path, identity: dict[str, Any]) -> None:
    """Write ``identity.json`` into a shard's (or report's) temporary folder, before it is published."""
    (folder / IDENTITY_FILE).write_text(json.dumps(identity, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def folder_changes(folder: Path, expected: dict[str, Any], ignore: tuple[str, ...] = ()) -> list[str]:
    """Why the finished folder's identity (less the ``ignore`` keys) is not ``expected``; empty when it is."""
    saved = read_identity(folder)
    if saved is None:
        return [f"{IDENTITY_FILE}: missing (made by an older medpair or by another tool)"]
    return differences({key: value for key, value in saved.items() if key not in ignore}, expected)
