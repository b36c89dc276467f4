"""Two sides run under different protocols are never paired; a non-default protocol is named in the report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lmeval_fake import make_docs, write_role_run

from medpair_stats.compare import ProtocolMismatchError, run_compare


def _run(root: Path, model: str, scores: list[int], when: int, protocol: str | None) -> Path:
    folder = write_role_run(root, model, "medqa", "test", {"f00": scores}, make_docs("medqa", "test", len(scores)), when=when)
    if protocol is not None:
        for path in folder.rglob("results_*.json"):
            results = json.loads(path.read_text(encoding="utf-8"))
            for config in results["configs"].values():
                config["metadata"]["protocol"] = protocol
            path.write_text(json.dumps(results), encoding="utf-8")
    return folder


def test_sides_with_different_protocols_are_refused(tmp_path: Path) -> None:
    med = _run(tmp_path / "a", "med", [1, 0, 1, 1, 1, 0], 0, "jeong2024")
    base = _run(tmp_path / "b", "base", [1, 0, 0, 1, 0, 0], 1, None)
    with pytest.raises(ProtocolMismatchError, match="jeong2024.*medpair"):
        run_compare([med], [base], tmp_path / "o", n_resamples=100)


def test_the_same_protocol_pairs_and_the_report_names_it(tmp_path: Path) -> None:
    med = _run(tmp_path / "a", "med", [1, 0, 1, 1, 1, 0], 0, "jeong2024")
    base = _run(tmp_path / "b", "base", [1, 0, 0, 1, 0, 0], 1, "jeong2024")
    result = run_compare([med], [base], tmp_path / "o", n_resamples=100)
    assert len(result.records) == 1
    assert any("protocol: jeong2024" in note for note in result.notes)
    assert "protocol: jeong2024" in (tmp_path / "o" / "report.md").read_text(encoding="utf-8")


def test_documents_carrying_their_prompts_are_paired_by_item_under_jeong2024(tmp_path: Path) -> None:
    """jeong2024 documents hold model-dependent prompts, so their lm-eval doc_hash differs per side."""
    med = write_role_run(tmp_path / "a", "med", "medqa", "test", {"f00": [1, 0, 1, 1]}, make_docs("medqa", "test", 4), when=0)
    base = write_role_run(tmp_path / "b", "base", "medqa", "test", {"f00": [1, 0, 0, 1]},
                          make_docs("medqa", "test", 4, version=" other prompt"), when=1)
    for folder in (med, base):
        for path in folder.rglob("results_*.json"):
            results = json.loads(path.read_text(encoding="utf-8"))
            for config in results["configs"].values():
                config["metadata"]["protocol"] = "jeong2024"
            path.write_text(json.dumps(results), encoding="utf-8")
    result = run_compare([med], [base], tmp_path / "o", n_resamples=100)
    assert result.records[0].n == 4


@pytest.mark.parametrize("other", [None, "jeong2024"])
def test_clue2024_is_never_paired_with_another_protocol(tmp_path: Path, other: str | None) -> None:
    med = _run(tmp_path / "a", "med", [1, 0, 1, 1, 1, 0], 0, "clue2024")
    base = _run(tmp_path / "b", "base", [1, 0, 0, 1, 0, 0], 1, other)
    with pytest.raises(ProtocolMismatchError, match=f"clue2024.*{other or 'medpair'}"):
        run_compare([med], [base], tmp_path / "o", n_resamples=100)
    both = _run(tmp_path / "c", "base", [1, 0, 0, 1, 0, 0], 1, "clue2024")
    result = run_compare([med], [both], tmp_path / "p", n_resamples=100)
    assert any("protocol: clue2024" in note for note in result.notes)


def test_vqa_sides_with_different_protocols_are_refused(tmp_path: Path) -> None:
    """The VQA tasks record their protocol like every family, and mixed sides are refused the same way."""
    runs = {}
    for side, protocol, when in (("med", "jeong2024", 0), ("base", "medpair", 1)):
        folder = write_role_run(tmp_path / side, side, "vqa_rad", "test", {"f00": [1, 0, 1, 1]},
                                make_docs("vqa_rad", "test", 4), when=when, mode="gen")
        for path in folder.rglob("results_*.json"):
            results = json.loads(path.read_text(encoding="utf-8"))
            for config in results["configs"].values():
                config["metadata"]["protocol"] = protocol
            path.write_text(json.dumps(results), encoding="utf-8")
        runs[side] = folder
    with pytest.raises(ProtocolMismatchError, match="jeong2024.*medpair"):
        run_compare([runs["med"]], [runs["base"]], tmp_path / "o", n_resamples=100)
