"""Helpers shared by the tests: the offline environment of a ``medpair`` subprocess, running it, reading its logs.

A module with its own name (not ``conftest``) so that any test folder can import it.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURE_DATA = REPO / "tests" / "fixtures" / "data"
PUBMEDQA_DIR = FIXTURE_DATA / "pubmedqa"  # the real release files (MIT), see SOURCE.md there
MEDPAIR = str(Path(sys.executable).parent / "medpair")
SESSION_TMP_ENV = "MEDPAIR_TEST_SESSION_TMP"  # the test run's private temp folder (TMPDIR of every process), see conftest.py
LEFTOVER_PATTERNS = ("medpair-test-hf-*", "torchelastic_*")  # what a test run must not leave in its temp folder


def leftover_temp_folders(root: Path) -> list[Path]:
    """The entries of ``root`` that a finished test run must not leave behind (``LEFTOVER_PATTERNS``)."""
    return sorted(path for pattern in LEFTOVER_PATTERNS for path in root.glob(pattern))


def subprocess_env(data_dir: Path | None) -> dict[str, str]:
    """Environment for a ``medpair`` subprocess: offline, private HF_HOME, the given data folder."""
    env = dict(os.environ)
    env.pop("MEDPAIR_DATA_DIR", None)
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    if data_dir is not None:
        env["MEDPAIR_DATA_DIR"] = str(data_dir)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def run_medpair(args: list[str], data_dir: Path | None, cwd: Path | None = None, medpair: str | None = None,
                check: bool = True, timeout: int = 900) -> subprocess.CompletedProcess:
    """Run the ``medpair`` command in a subprocess; with ``check``, fail the test with its output if it fails."""
    command = [medpair or MEDPAIR, *args]
    done = subprocess.run(command, env=subprocess_env(data_dir), cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        pytest.fail(f"{' '.join(command)} exited {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}")
    return done


def run_medpair_here(args: list[str], data_dir: Path, monkeypatch: pytest.MonkeyPatch,
                     capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    """``medpair`` in this process (the console script's entry point, without a new process's start-up)
    for a command that loads no model (a dry run, a refusal): exit status, stdout and stderr."""
    from medpair_tasks import cli

    monkeypatch.setenv("MEDPAIR_DATA_DIR", str(data_dir))
    status = cli.main(args)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def read_run(out: Path) -> tuple[dict, dict[str, list[dict]]]:
    """The results file and every task's samples of the one lm-eval run under ``out``."""
    (results_file,) = out.rglob("results_*.json")
    samples = {}
    for path in out.rglob("samples_*.jsonl"):
        task = path.name[len("samples_") : path.name.rindex("_")]
        samples[task] = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return json.loads(results_file.read_text(encoding="utf-8")), samples


def write_tiny_bert(folder: Path, texts: list[str], layers: int, hidden: int) -> Path:
    """Save a randomly initialised BERT (seed 0) of ``layers`` × ``hidden`` and a WordPiece tokenizer
    trained on ``texts`` to ``folder``: a BERTScore model for tests, built offline."""
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    from transformers import BertConfig, BertModel, BertTokenizerFast

    wordpiece = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    wordpiece.normalizer = normalizers.BertNormalizer(lowercase=True)
    wordpiece.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    wordpiece.train_from_iterator(texts * 5, trainers.WordPieceTrainer(vocab_size=120, special_tokens=specials))
    fast = BertTokenizerFast(tokenizer_object=wordpiece, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                             sep_token="[SEP]", mask_token="[MASK]")
    fast.save_pretrained(folder)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        BertModel(BertConfig(vocab_size=len(fast), hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=2,
                             intermediate_size=2 * hidden)).save_pretrained(folder)
    return folder


@functools.cache
def read_reference_cells(path: Path) -> dict[str, list[dict]]:
    """The cells of a stored reference run (gzipped JSON lines), per dataset name, in file order."""
    cells: dict[str, list[dict]] = {}
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            cell = json.loads(line)
            cells.setdefault(cell["dataset"], []).append(cell)
    return cells


def prompts_digest(prompts: list[str]) -> str:
    """The digest a reference run stores: SHA-256 of the prompts joined by NUL."""
    return hashlib.sha256("\0".join(prompts).encode("utf-8")).hexdigest()
