"""The VQA task YAMLs, as text: :func:`vqa_files` (called by ``task_yaml/_generate.py``).

Written under ``task_yaml/vqa/``:

- ``_templates/_vqa_yaml``: the VQA layer (task class, data, images) over the knowledge tasks'
  gen template (generation, extraction, scoring), and ``_templates/formats/<format>_yaml``: one
  ``doc_to_text`` per format;
- ``<dataset>/medpair_<dataset>_gen.yaml``: the bare default (format f00, zero-shot, test role);
- ``<dataset>/candidates/medpair_<dataset>_gen_<format>_k0.yaml`` (11) and ``..._k3_s<seed>.yaml``
  (110): the prompt candidates, on the validation role unless ``--metadata '{"role": "test"}'``;
- ``_groups/``: ``medpair_vqa_rad``, ``medpair_slake``, ``medpair_pathvqa`` (each the bare task),
  ``medpair_mmmu_health`` (the five MMMU health subjects' bare tasks) and ``medpair_vqa`` (all four).

VQA tasks are generation only (``gen`` mode), as Jeong et al. compared VLMs (greedy decoding,
answer extraction): lm-eval's ``hf-multimodal`` model supports log-likelihood requests with
images only partly.
"""

from __future__ import annotations

from medpair_tasks.family.taskfiles import HEADER, candidate_family, format_files, group_file
from medpair_tasks.taskspec import Candidate
from medpair_tasks.vqa.prompts import vqa_template
from medpair_tasks.vqa.sources import MMMU_SUBJECTS, VQA_SOURCES

ROOT = "vqa"
MODE = "gen"

# The VQA layer over the knowledge tasks' gen template (generation, extraction, scoring): the
# task class that sends every demonstration's image, the VQA data, the images.
VQA_LAYER = """\
class: !function medpair_tasks.vqa.task.VQATask
custom_dataset: !function medpair_tasks.vqa.hooks.load
doc_to_image: !function medpair_tasks.vqa.hooks.doc_to_image
"""

MMMU_DATASETS = tuple(f"mmmu_{suffix}" for suffix in MMMU_SUBJECTS)
GROUPS: dict[str, tuple[str, ...]] = {
    "medpair_vqa_rad": ("medpair_vqa_rad_gen",),
    "medpair_slake": ("medpair_slake_gen",),
    "medpair_pathvqa": ("medpair_pathvqa_gen",),
    "medpair_mmmu_health": tuple(f"medpair_{d}_gen" for d in MMMU_DATASETS),
    "medpair_vqa": ("medpair_vqa_rad", "medpair_slake", "medpair_pathvqa", "medpair_mmmu_health"),
}


def _group_file(name: str, members: tuple[str, ...]) -> str:
    return group_file(name, members, ("  - metric: acc", "    aggregation: mean", "    weight_by_size: true",
                                      "    filter_list: extract"))


def _includes(candidate: Candidate) -> list[str]:
    """The knowledge tasks' gen template, the VQA format, then the VQA layer (paths from ``vqa/``)."""
    return ["../_templates/_gen_template_yaml", f"_templates/formats/{candidate.format_id}_yaml", "_templates/_vqa_yaml"]


def vqa_files() -> dict[str, str]:
    """Every VQA task file: path relative to ``task_yaml/`` → content."""
    files = {f"{ROOT}/_templates/_vqa_yaml": HEADER + VQA_LAYER}
    files.update(format_files(f"{ROOT}/_templates/formats", vqa_template))
    for dataset in VQA_SOURCES:
        files.update(candidate_family(f"{ROOT}/{dataset}", dataset, MODE, _includes))
    for name, members in GROUPS.items():
        files[f"{ROOT}/_groups/{name}.yaml"] = _group_file(name, members)
    return files
