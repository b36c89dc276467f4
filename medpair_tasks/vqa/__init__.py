"""Medical visual question answering for lm-eval's ``hf-multimodal`` models.

VQA-RAD, SLAKE, PathVQA and MMMU's five health subjects, posed as multiple choice and scored by
greedy generation with answer extraction, in the prompt space of the text tasks (11 formats ×
{0-shot, 3-shot × 10 seeds}); 3-shot prompts carry every demonstration's image; an optional
evidence file puts an expert model's findings in the prompt.

Modules: :mod:`~medpair_tasks.vqa.records` (the record, closed-question options),
:mod:`~medpair_tasks.vqa.images` (image stores), :mod:`~medpair_tasks.vqa.sources` (readers),
:mod:`~medpair_tasks.vqa.roles` (split roles), :mod:`~medpair_tasks.vqa.prompts` (templates),
:mod:`~medpair_tasks.vqa.hooks` (lm-eval hooks), :mod:`~medpair_tasks.vqa.fewshot` and
:mod:`~medpair_tasks.vqa.task` (few-shot images), :mod:`~medpair_tasks.vqa.evidence`,
:mod:`~medpair_tasks.vqa.taskfiles` (the YAMLs), :mod:`~medpair_tasks.vqa.tinyvlm` (a tiny
LLaVA-shaped model for tests and demos); under the ``jeong2024`` protocol
:mod:`~medpair_tasks.vqa.jeong2024_data` (the reference's populations) and
:mod:`~medpair_tasks.vqa.jeong2024` (its VLM prompts, draws and stops).
"""
