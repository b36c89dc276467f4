"""Medical knowledge tasks: MedQA (4 and 5 options), MedMCQA, PubMedQA and nine MMLU subjects.

A task family of the shape :mod:`medpair_tasks.family` describes:
:mod:`~medpair_tasks.knowledge.records` (the multiple-choice record),
:mod:`~medpair_tasks.knowledge.sources` (the readers and the table :data:`~medpair_tasks.knowledge.sources.SOURCES`),
:mod:`~medpair_tasks.knowledge.roles` (validation / test / few-shot roles),
:mod:`~medpair_tasks.knowledge.hooks` (lm-eval's ``custom_dataset``) and
:mod:`~medpair_tasks.knowledge.taskfiles` (the YAMLs under ``task_yaml/<dataset>/``). The
``jeong2024`` protocol's own roles and prompts are :mod:`medpair_tasks.jeong2024_roles` and
:mod:`medpair_tasks.jeong2024_docs`.
"""
