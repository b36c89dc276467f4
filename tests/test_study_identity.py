"""``medpair run``: a shard belongs to one model and one data version; the device default; resuming after a crash
or ``kill -9``."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from medpair_testlib import MEDPAIR, run_medpair_here, subprocess_env
from medpair_tasks.study.execute import EvalOptions
from medpair_tasks.study.identity import differences, folder_fingerprint, model_identity, result_args
from medpair_tasks.study.spec import ModelSpec


def _here(args: list[str], data_dir: Path) -> tuple[int, str, str]:
    """``medpair ARGS`` in this process: exit status, stdout and stderr."""
    result = run_medpair_here(args, data_dir)
    return result.returncode, result.stdout, result.stderr

N_SHARDS = 11  # mmlu_anatomy, mc, 0-shot: one shard per format


def _medpair(args: list[str], data_dir: Path) -> subprocess.CompletedProcess:
    """``medpair`` in a subprocess that sees no GPU (CUDA_VISIBLE_DEVICES empty), as on a CPU-only machine."""
    env = {**subprocess_env(data_dir), "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.run([MEDPAIR, *args], env=env, capture_output=True, text=True, timeout=900)


def _refused_here(args: list[str], data_dir: Path) -> str:
    """The stderr of a command refused before any model loads, run in this process; its exit status must be 1."""
    status, _, stderr = _here(args, data_dir)
    assert status == 1, stderr[-3000:]
    return stderr


def _args(medical: Path, base: Path, out: Path, *extra: str) -> list[str]:
    """A small study, without --device: the tiny pair on one dataset, zero-shot."""
    return ["run", "--medical", f"hf:pretrained={medical},dtype=float32", "--base", f"hf:pretrained={base},dtype=float32",
            "--tasks", "mmlu_anatomy", "--shots", "0", "--out", str(out), "--val-limit", "4", "--batch-size", "8",
            "--n-resamples", "500", "--protocol", "medpair", *extra]


def _shard_times(out: Path) -> dict[str, int]:
    return {str(p.relative_to(out)): p.stat().st_mtime_ns for p in (out / "runs").glob("*/*/*")}


@pytest.fixture(scope="module")
def finished_study(tiny_models, data_dir, tmp_path_factory) -> Path:
    """One small finished study; before it, ``--device cuda`` on this GPU-less run is refused and leaves nothing."""
    base, medical = tiny_models
    out = tmp_path_factory.mktemp("identity") / "study"
    refused = _medpair(_args(medical, base, out, "--device", "cuda"), data_dir)
    assert refused.returncode == 1, refused.stderr[-3000:]
    assert "torch sees no CUDA device" in refused.stderr and "Traceback" not in refused.stderr
    assert not (out / "manifest.json").exists() and not (out / "runs").exists()
    done = _medpair(_args(medical, base, out), data_dir)  # no --device: the CPU here, as lm-eval falls back to
    assert done.returncode == 0, done.stderr[-3000:]
    assert "device:   cpu" in done.stdout
    return out


def _copy(study: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "study"
    shutil.copytree(study, copy)
    return copy


@pytest.mark.slow
def test_run_without_device_uses_the_cpu_and_records_identity(finished_study):
    manifest = json.loads((finished_study / "manifest.json").read_text())
    assert manifest["execution"]["device"] == "cpu"
    assert "device" not in manifest["identity"]["eval_options"]
    assert len(_shard_times(finished_study)) == 2 * N_SHARDS + 2
    for shard in (finished_study / "runs").glob("*/*/*"):
        identity = json.loads((shard / "identity.json").read_text())
        side = shard.parent.parent.name
        assert identity["model"] == manifest["identity"]["model_identity"][side]
        assert identity["shard"]["id"] == shard.name


def _stage1_shards(out: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in (out / "runs" / "medical" / "stage1").glob("val_*")}


@pytest.mark.slow
def test_study_survives_kill_and_resumes_to_the_same_report(tiny_models, data_dir, finished_study, tmp_path):
    """``kill -9`` inside stage 1, then the same command: no finished shard is redone and the report is the
    uninterrupted study's, byte for byte."""
    base, medical = tiny_models
    killed = tmp_path / "killed"
    args = _args(medical, base, killed)
    process = subprocess.Popen([MEDPAIR, *args], env={**subprocess_env(data_dir), "CUDA_VISIBLE_DEVICES": ""},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while len(_stage1_shards(killed)) < 5 and process.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    before = _stage1_shards(killed)
    assert 5 <= len(before) < N_SHARDS, "the kill must land inside stage 1"
    assert not (killed / "report").exists()

    resumed = _medpair(args, data_dir)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "report:" in resumed.stdout and "comparisons: medical better in" in resumed.stdout
    after = _stage1_shards(killed)
    assert len(after) == N_SHARDS
    assert all(after[name] == mtime for name, mtime in before.items()), "finished shards must not be redone"
    assert not list(killed.rglob(".tmp-*"))
    for name in ("comparisons.json", "comparisons.csv", "report.md"):
        assert (killed / "report" / name).read_bytes() == (finished_study / "report" / name).read_bytes(), name
    manifest = json.loads((killed / "manifest.json").read_text())
    assert set(manifest["selection"]) == {"medical", "base"} and set(manifest["selection"]["medical"]) == {"mmlu_anatomy_mc_k0"}
    assert len(manifest["progress"]["base"]["stage2"]) == 1


@pytest.mark.slow
def test_swapped_models_are_refused_even_without_the_manifest(tiny_models, data_dir, finished_study, tmp_path):
    """The reported bug: delete manifest.json, swap medical and base, and get the old logs under new names."""
    base, medical = tiny_models
    out = _copy(finished_study, tmp_path)
    report = (out / "report" / "comparisons.json").read_bytes()
    (out / "manifest.json").unlink()
    message = _refused_here(_args(base, medical, out), data_dir)  # swapped
    assert "never reuses them" in message and "Traceback" not in message
    assert f"model.locations.pretrained.path: '{medical}' there, '{base}' in this command" in message
    assert "model.locations.pretrained.fingerprint" in message
    assert "runs/medical/stage1/" in message and "runs/base/stage1/" in message
    assert (out / "report" / "comparisons.json").read_bytes() == report
    assert not (out / "manifest.json").exists()


@pytest.mark.slow
def test_the_same_study_resumes_without_its_manifest(tiny_models, data_dir, finished_study, tmp_path):
    base, medical = tiny_models
    out = _copy(finished_study, tmp_path)
    before = _shard_times(out)
    (out / "manifest.json").unlink()
    done = _medpair(_args(medical, base, out), data_dir)
    assert done.returncode == 0, done.stderr[-3000:]
    assert _shard_times(out) == before, "no shard may be redone"
    assert (out / "report" / "comparisons.json").read_bytes() == (finished_study / "report" / "comparisons.json").read_bytes()


@pytest.mark.slow
def test_execution_settings_change_and_the_study_resumes(tiny_models, data_dir, finished_study, tmp_path):
    """After an out-of-memory crash the user lowers the batch size: that resumes, nothing is redone."""
    base, medical = tiny_models
    out = _copy(finished_study, tmp_path)
    shutil.rmtree(out / "report")
    for shard in [*sorted((out / "runs" / "base" / "stage1").iterdir())[-3:], out / "runs" / "base" / "stage2" / "test_mmlu_anatomy_mc_k0"]:
        shutil.rmtree(shard)  # the crash: the base model's last shards never finished
    kept = _shard_times(out)
    done = _medpair(_args(medical, base, out, "--batch-size", "2", "--max-batch-size", "4", "--device", "cpu"), data_dir)
    assert done.returncode == 0, done.stderr[-3000:]
    after = _shard_times(out)
    assert len(after) == 2 * N_SHARDS + 2 and all(after[name] == mtime for name, mtime in kept.items())
    assert json.loads((out / "manifest.json").read_text())["execution"]["batch_size"] == "2"
    assert (out / "report" / "comparisons.json").read_bytes() == (finished_study / "report" / "comparisons.json").read_bytes()


@pytest.mark.slow
def test_a_changed_setting_is_refused_with_the_fields_that_differ(tiny_models, data_dir, finished_study, tmp_path):
    base, medical = tiny_models
    out = _copy(finished_study, tmp_path)
    stderr = _refused_here(_args(medical, base, out, "--val-limit", "3", "--dry-run"), data_dir)
    assert "config.val_limit: 4 there, 3 in this command" in stderr
    assert "data.mmlu_anatomy.val" in stderr  # fewer validation items: another data version
    assert "Deleting" in stderr and "does not start over" in stderr


@pytest.mark.slow
def test_a_shard_without_identity_is_not_reused(tiny_models, data_dir, finished_study, tmp_path):
    base, medical = tiny_models
    out = _copy(finished_study, tmp_path)
    shard = sorted((out / "runs" / "medical" / "stage1").iterdir())[0]
    (shard / "identity.json").unlink()
    stderr = _refused_here(_args(medical, base, out), data_dir)
    assert f"runs/medical/stage1/{shard.name}:" in stderr and "identity.json: missing" in stderr


@pytest.mark.slow
def test_a_halving_study_resumes_from_its_round_shards(tiny_models, data_dir, tmp_path):
    """Halving rounds record the items they scored; a rerun after a crash reuses them and redoes only the rest."""
    base, medical = tiny_models
    out = tmp_path / "halving"
    args = _args(medical, base, out, "--val-limit", "6", "--search", "halving", "--halving-min-items", "2")
    first = _medpair(args, data_dir)
    assert first.returncode == 0, first.stderr[-3000:]
    rounds = sorted((out / "runs" / "base" / "stage1").iterdir())
    assert len(rounds) >= 2
    scored = json.loads((rounds[0] / "identity.json").read_text())["shard"]["samples"]
    assert len(scored) == N_SHARDS and all(len(items) == 2 for items in scored.values())
    for folder in (rounds[-1], out / "runs" / "base" / "stage2", out / "report"):
        shutil.rmtree(folder)
    kept = _shard_times(out)
    again = _medpair([*args, "--batch-size", "2"], data_dir)
    assert again.returncode == 0, again.stderr[-3000:]
    after = _shard_times(out)
    assert all(after[name] == mtime for name, mtime in kept.items()) and len(after) == len(kept) + 2


def test_model_identity_is_content_based_and_ignores_execution_args(tiny_models, tmp_path):
    base, medical = tiny_models
    spec = ModelSpec.parse(f"hf:pretrained={medical},dtype=float32")
    identity = model_identity(spec)
    assert identity["locations"]["pretrained"] == {"path": str(medical.resolve()), "fingerprint": folder_fingerprint(medical)}
    assert identity["dtype"] == "float32"
    assert model_identity(ModelSpec.parse(f"hf:pretrained={medical},dtype=float32,device=cuda:1,batch_size=64")) == identity
    assert result_args(ModelSpec.parse("hf:pretrained=a,device=cuda:1,dtype=bfloat16")) == "hf:pretrained=a,dtype=bfloat16"
    assert folder_fingerprint(medical) != folder_fingerprint(base)
    copy = tmp_path / "copy"
    shutil.copytree(medical, copy)  # a copy (new mtimes) is the same model
    assert folder_fingerprint(copy) == folder_fingerprint(medical)
    weights = next(copy.glob("*.safetensors"))
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF  # one changed byte in the last weight
    weights.write_bytes(bytes(data))
    assert folder_fingerprint(copy) != folder_fingerprint(medical)
    hub = model_identity(ModelSpec.parse("org/model"))
    assert hub["locations"]["pretrained"] == {"hub_id": "org/model", "revision": "main"}
    assert model_identity(ModelSpec.parse("hf:pretrained=org/model,revision=abc123"))["locations"]["pretrained"]["revision"] == "abc123"


def test_execution_options_are_not_results():
    fast = EvalOptions(batch_size="64", max_batch_size=128, device="cuda:0")
    slow = EvalOptions(batch_size="1", device="cpu")
    assert fast.result_settings() == slow.result_settings()
    assert EvalOptions(gen_kwargs="max_gen_toks=8").result_settings() != slow.result_settings()


def test_differences_name_each_field():
    saved = {"a": {"b": 1, "c": [1, 2]}, "d": "x"}
    assert differences(saved, saved) == []
    assert differences(saved, {"a": {"b": 2, "c": [1, 2]}, "e": 3}) == [
        "a.b: 1 there, 2 in this command", "d: 'x' there, missing in this command", "e: missing there, 3 in this command"]
