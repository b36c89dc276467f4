"""Helpers of the VQA tests (the shared ones, ``run_medpair`` and ``read_run``, come from ``medpair_testlib``)."""

from __future__ import annotations

from pathlib import Path

from medpair_testlib import build_once_per_run


def tiny_vlm_pair() -> tuple[Path, Path]:
    """The tiny (base, medical) VLM pair, built once per test run and shared by the VQA test files and the xdist workers."""
    from medpair_tasks.vqa.tinyvlm import build_vlm_pair

    return build_once_per_run("tiny-vlms", build_vlm_pair)


