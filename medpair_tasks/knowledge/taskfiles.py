"""The knowledge task YAMLs, as text: :func:`knowledge_files` (called by ``task_yaml/_generate.py``).

Written under ``task_yaml/``, for every knowledge dataset ``D`` (see the README for the naming scheme):

- ``D/medpair_D.yaml`` and ``D/medpair_D_gen.yaml``: the bare, model-neutral defaults
  (default format f00, zero-shot, test role; ``mc`` and ``gen`` scoring);
- ``D/candidates/medpair_D_<mode>_<format>_k0.yaml`` (11 per mode) and
  ``D/candidates/medpair_D_<mode>_<format>_k3_s<seed>.yaml`` (110 per mode): the prompt
  candidates, on the validation role unless ``--metadata '{"role": "test"}'`` says otherwise;
- ``_groups/``: ``medpair_mmlu_medical`` and ``medpair_knowledge`` (and their ``_gen`` twins),
  whose members are inline (named ``<group>::<dataset>_f00_k0``), so that ``--tasks 'medpair_*'`` never lists a task twice.

Under the ``jeong2024`` protocol a document carries its finished prompt (``prompt``): every
format prints it unchanged, and the demonstrations (already inside it) print as nothing.

Everything a task shares comes through ``include:`` from ``_templates/`` (the scoring modes)
and ``_templates/formats/`` (one ``doc_to_text`` per prompt format); those files have no
``.yaml`` suffix so that lm-eval's index skips them.
"""

from __future__ import annotations

from medpair_tasks.family.taskfiles import HEADER, candidate_family, candidate_metadata, flow, format_files, standard_includes
from medpair_tasks.formats import jinja_template, with_finished_prompt
from medpair_tasks.knowledge.sources import MMLU_SUBJECTS, SOURCES
from medpair_tasks.taskspec import MODES, TASK_VERSION, Candidate

MODE_TEMPLATES = {
    "mc": """\
custom_dataset: !function medpair_tasks.knowledge.hooks.load
test_split: eval
fewshot_config:
  split: fewshot
  sampler: first_n
  doc_to_target: "{% if prompt is defined %}{% else %}{{ answer_idx }}{% endif %}"
output_type: multiple_choice
doc_to_choice: !function medpair_tasks.family.hooks.letters
doc_to_target: answer_idx
target_delimiter: " "
fewshot_delimiter: "\\n\\n"
process_results: !function medpair_tasks.family.hooks.score_loglikelihood
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
""",
    "gen": """\
custom_dataset: !function medpair_tasks.knowledge.hooks.load
test_split: eval
fewshot_config:
  split: fewshot
  sampler: first_n
  doc_to_target: "{% if prompt is defined %}{% else %}{{ 'ABCDEFGHIJ'[answer_idx] }}{% endif %}"
output_type: generate_until
doc_to_target: "{{ 'ABCDEFGHIJ'[answer_idx] }}"
target_delimiter: " "
fewshot_delimiter: "\\n\\n"
generation_kwargs:
  until: ["\\n\\n"]
  max_gen_toks: 64
  do_sample: false
  temperature: 0.0
filter_list:
  - name: extract
    filter:
      - function: custom
        filter_fn: !function medpair_tasks.family.hooks.extract_filter
      - function: take_first
process_results: !function medpair_tasks.family.hooks.score_generation
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
""",
}


def _group_file(name: str, mode: str, datasets: list[str], nested_mmlu: bool) -> str:
    default = {d: Candidate(d, mode, "f00", 0, None) for d in datasets}
    lines = [
        HEADER.rstrip("\n"),
        f"group: {name}",
        f"include: {flow([f'../_templates/_{mode}_template_yaml', '../_templates/formats/f00_yaml'])}",
        "num_fewshot: 0",
        "task:",
    ]
    for dataset in datasets:
        lines.append(f"  - {flow({'task': f'{dataset}_f00_k0', 'metadata': candidate_metadata(default[dataset], 'test')})}")
    if nested_mmlu:
        mmlu = {"group": "mmlu_medical_f00_k0", "aggregate_metric_list": [{"metric": "acc", "weight_by_size": True}]}
        mmlu["task"] = [
            {"task": f"mmlu_{s}_f00_k0", "metadata": candidate_metadata(Candidate(f"mmlu_{s}", mode, "f00", 0, None), "test")}
            for s in MMLU_SUBJECTS
        ]
        lines.append(f"  - {flow(mmlu)}")
    lines += [
        "aggregate_metric_list:",
        "  - metric: acc",
        "    aggregation: mean",
        "    weight_by_size: true",
        f"metadata: {flow({'version': TASK_VERSION})}",
    ]
    return "\n".join(lines) + "\n"


def knowledge_files() -> dict[str, str]:
    """Every knowledge task file: path relative to ``task_yaml/`` → content."""
    files: dict[str, str] = {}
    for mode, template in MODE_TEMPLATES.items():
        files[f"_templates/_{mode}_template_yaml"] = HEADER + template
    files.update(format_files("_templates/formats", lambda fmt: with_finished_prompt(jinja_template(fmt))))
    for dataset in SOURCES:
        for mode in MODES:
            files.update(candidate_family(dataset, dataset, mode, standard_includes("_templates/_{mode}_template_yaml")))
    mmlu = [f"mmlu_{s}" for s in MMLU_SUBJECTS]
    knowledge = [d for d in SOURCES if d not in mmlu]
    for mode in MODES:
        suffix = "" if mode == "mc" else "_gen"
        files[f"_groups/medpair_mmlu_medical{suffix}.yaml"] = _group_file(f"medpair_mmlu_medical{suffix}", mode, mmlu, False)
        files[f"_groups/medpair_knowledge{suffix}.yaml"] = _group_file(f"medpair_knowledge{suffix}", mode, knowledge, True)
    return files
