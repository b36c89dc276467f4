"""``medpair run --demo``: a whole study offline, on tiny models and sample data written for medpair.

The sample data are made-up exam questions, written in the MedQA and MMLU release formats into
``OUT/demo/data``:

- MedQA: questions about a dozen textbook facts of pharmacology, physiology and microbiology
  (:data:`FACTS`), each question with its own case number, opening and option order;
- MMLU anatomy: questions about a dozen anatomy facts (:data:`ANATOMY_FACTS`) that no training
  question mentions.

Both models share one tokenizer, trained on the MedQA questions outside the test role. The base
model (``demo-base``) is a random tiny Llama; the medical model (``demo-medical``) is the same
model fine-tuned on the answers of the MedQA *training* questions (the few-shot pool), in the
study's prompt formats in turn. It learns those facts, so it should beat its base on MedQA's
test questions (new questions about the same facts) and only tie with it on anatomy, which it
never saw: an honest win and an honest tie. Nothing is trained on a validation or test question.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import logging
import os
import random
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from medpair_tasks.formats import LETTERS, format_ids
from medpair_tasks.knowledge.records import Item

log = logging.getLogger(__name__)

DEMO_TASKS = ("medqa", "mmlu_anatomy")
DEMO_NAMES = {"medical": "demo-medical", "base": "demo-base"}
MEDQA_SIZES = {"train": 1000, "dev": 12, "test": 120}
"""Questions per MedQA split: the training questions are also the few-shot pool."""
MMLU_SIZES = {"dev": 5, "val": 12, "test": 120}
FINE_TUNE_STEPS = 250
VOCAB_SIZE = 1000

Fact = tuple[str, str, tuple[str, ...]]
"""A question stem, its answer, and four wrong answers."""

FACTS: tuple[Fact, ...] = (
    ("Which drug is first-line for anaphylaxis?", "Epinephrine", ("Diphenhydramine", "Prednisone", "Ranitidine", "Albuterol")),
    ("Which vitamin deficiency causes scurvy?", "Vitamin C", ("Vitamin A", "Vitamin D", "Vitamin K", "Vitamin B12")),
    ("Which organism causes tuberculosis?", "Mycobacterium tuberculosis",
     ("Staphylococcus aureus", "Escherichia coli", "Candida albicans", "Treponema pallidum")),
    ("Which hormone lowers blood glucose?", "Insulin", ("Glucagon", "Cortisol", "Epinephrine", "Growth hormone")),
    ("Which electrolyte disturbance causes peaked T waves?", "Hyperkalemia",
     ("Hypokalemia", "Hyponatremia", "Hypercalcemia", "Hypomagnesemia")),
    ("Which nerve is injured in wrist drop?", "Radial nerve", ("Ulnar nerve", "Median nerve", "Axillary nerve", "Musculocutaneous nerve")),
    ("Which antibiotic covers MRSA?", "Vancomycin", ("Ceftriaxone", "Amoxicillin", "Cefazolin", "Penicillin G")),
    ("Which chamber of the heart pumps blood to the aorta?", "Left ventricle",
     ("Right ventricle", "Left atrium", "Right atrium", "Pulmonary trunk")),
    ("Which enzyme is inhibited by aspirin?", "Cyclooxygenase",
     ("Lipoxygenase", "Phospholipase A2", "Thromboxane synthase", "HMG-CoA reductase")),
    ("Which inheritance pattern does cystic fibrosis follow?", "Autosomal recessive",
     ("Autosomal dominant", "X-linked recessive", "X-linked dominant", "Mitochondrial")),
    ("Which cell produces antibodies?", "Plasma cell", ("Neutrophil", "Macrophage", "T helper cell", "Mast cell")),
    ("Which bone is the most frequently fractured carpal bone?", "Scaphoid", ("Lunate", "Hamate", "Pisiform", "Trapezium")),
)
ANATOMY_FACTS: tuple[Fact, ...] = (
    ("Which muscle is the main muscle of inspiration?", "Diaphragm", ("Trapezius", "Deltoid", "Masseter", "Soleus")),
    ("Which bone forms the kneecap?", "Patella", ("Fibula", "Talus", "Calcaneus", "Clavicle")),
    ("Which artery supplies most of the lateral surface of the brain?", "Middle cerebral artery",
     ("Anterior cerebral artery", "Posterior cerebral artery", "Basilar artery", "Vertebral artery")),
    ("Which cranial nerve moves the tongue?", "Hypoglossal nerve",
     ("Trochlear nerve", "Abducens nerve", "Olfactory nerve", "Vagus nerve")),
    ("Which valve lies between the left atrium and the left ventricle?", "Mitral valve",
     ("Tricuspid valve", "Pulmonary valve", "Aortic valve", "Eustachian valve")),
    ("Which organ stores bile?", "Gallbladder", ("Pancreas", "Spleen", "Appendix", "Thymus")),
    ("Which lobe of the brain holds the primary visual cortex?", "Occipital lobe",
     ("Frontal lobe", "Temporal lobe", "Parietal lobe", "Insular lobe")),
    ("Which ligament of the knee prevents anterior tibial translation?", "Anterior cruciate ligament",
     ("Posterior cruciate ligament", "Medial collateral ligament", "Lateral collateral ligament", "Patellar ligament")),
    ("Which gland sits in the sella turcica?", "Pituitary gland",
     ("Thyroid gland", "Adrenal gland", "Parotid gland", "Pineal gland")),
    ("Which part of the nephron lies in the renal medulla?", "Loop of Henle",
     ("Glomerulus", "Bowman capsule", "Proximal tubule", "Renal corpuscle")),
    ("Which vessel carries blood from the intestines to the liver?", "Portal vein",
     ("Inferior vena cava", "Hepatic artery", "Aorta", "Azygos vein")),
    ("Which bone is the longest in the body?", "Femur", ("Humerus", "Tibia", "Radius", "Sternum")),
)
OPENINGS = ("", "A 34-year-old woman asks her physician. ", "A 61-year-old man is seen in clinic. ", "A medical student is asked: ")


class QuestionMaker:
    """Made-up exam questions about ``facts``; numbered cases keep every text unique.

    The right answers' letters are balanced, as in an exam's answer key: each run of
    ``n_options`` questions puts the right answer once in each position, in a random order.
    """

    def __init__(self, facts: tuple[Fact, ...], seed: int) -> None:
        self.facts = facts
        self.rng = random.Random(seed)
        self.cases = itertools.count(1)
        self.positions: list[int] = []

    def __call__(self, n_options: int = 4) -> tuple[str, list[str], int]:
        """(question, options, index of the right option)."""
        stem, answer, distractors = self.rng.choice(self.facts)
        options = self.rng.sample(distractors, n_options - 1)
        if not self.positions:
            self.positions = self.rng.sample(range(n_options), n_options)
        position = self.positions.pop()
        options.insert(position, answer)
        return f"Case {next(self.cases)}. {self.rng.choice(OPENINGS)}{stem}", options, position


def write_medqa(folder: Path, make: QuestionMaker, sizes: dict[str, int], n_options: int = 4) -> None:
    """MedQA release files (``train/dev/test.jsonl``, fields question/answer/options/answer_idx)."""
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in sizes.items():
        with (folder / f"{split}.jsonl").open("w", encoding="utf-8") as handle:
            for _ in range(n):
                question, options, answer = make(n_options)
                letters = LETTERS[:n_options]
                row = {"question": question, "answer": options[answer], "options": dict(zip(letters, options)),
                       "meta_info": "step1", "answer_idx": letters[answer]}
                handle.write(json.dumps(row) + "\n")


def write_mmlu(folder: Path, make: QuestionMaker, subjects: tuple[str, ...], sizes: dict[str, int]) -> None:
    """MMLU release files (``dev/val/test/<subject>_<split>.csv``: question, A–D, answer letter)."""
    for split, n in sizes.items():
        (folder / split).mkdir(parents=True, exist_ok=True)
        for subject in subjects:
            with (folder / split / f"{subject}_{split}.csv").open("w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                for _ in range(n):
                    question, options, answer = make(4)
                    writer.writerow([question, *options, LETTERS[answer]])


def write_demo_data(root: Path, seed: int = 11) -> Path:
    """Write the demo's MedQA and MMLU-anatomy files under ``root``; returns ``root``."""
    write_medqa(root / "medqa", QuestionMaker(FACTS, seed), MEDQA_SIZES)
    write_mmlu(root / "mmlu", QuestionMaker(ANATOMY_FACTS, seed), ("anatomy",), MMLU_SIZES)
    return root


def demo_items(root: Path) -> dict[str, dict[str, list[Item]]]:
    """The demo's items as medpair reads them: ``{dataset: {split: items}}`` (MMLU's dev is ``train``)."""
    from medpair_tasks.knowledge.sources import SOURCES

    return {"medqa": SOURCES["medqa"].read_local(root / "medqa"),
            "mmlu_anatomy": SOURCES["mmlu_anatomy"].read_local(root / "mmlu")}


def as_examples(items: list[Item]) -> list[tuple[str, str]]:
    """``(prompt, answer)`` pairs, the prompts in the study's formats in turn (f00, f01, …)."""
    from medpair_tasks.finetune.data import answer_text, render_prompt

    formats = itertools.cycle(format_ids())
    return [(render_prompt(item, next(formats)), answer_text(item)) for item in items]


def build_demo_models(root: Path, items: dict[str, dict[str, list[Item]]]) -> tuple[Path, Path]:
    """Build (or reuse) ``root/base`` and ``root/medical``; returns (medical, base)."""
    from medpair_tasks.tinymodels import TinyShape, build_base, fine_tune_on_answers

    base, medical = root / "base", root / "medical"
    if not (base / "config.json").is_file():
        log.info("building the tiny base model in %s", base)
        medqa = items["medqa"]
        texts = [prompt + answer for prompt, answer in as_examples(medqa["train"] + medqa["dev"])]
        build_base(base, texts=texts, shape=TinyShape(hidden_size=64, intermediate_size=128, heads=4),
                   vocab_size=VOCAB_SIZE, max_positions=2048)
    if not (medical / "config.json").is_file():
        log.info("fine-tuning its medical sibling on the MedQA training questions' answers")
        fine_tune_on_answers(base, medical, as_examples(items["medqa"]["train"]), steps=FINE_TUNE_STEPS)
    return medical, base


def prepare_demo(args: argparse.Namespace) -> Path:
    """Build the demo's data and models under ``args.out/demo`` and fill in the run's arguments.

    Returns the data folder, which the run must see as ``$MEDPAIR_DATA_DIR``
    (:func:`data_dir_set`); the process environment is left as it is.
    """
    root = args.out / "demo"
    data = write_demo_data(root / "data")
    medical, base = build_demo_models(root / "models", demo_items(data))
    for side, path in (("medical", medical), ("base", base)):
        if not getattr(args, side):
            setattr(args, side, f"hf:pretrained={path},dtype=float32")
            if not getattr(args, f"{side}_name"):
                setattr(args, f"{side}_name", DEMO_NAMES[side])
    args.tasks = args.tasks or DEMO_TASKS
    args.device = args.device or "cpu"
    args.batch_size = args.batch_size if args.batch_size != "1" else "64"
    return data


@contextmanager
def data_dir_set(folder: Path | None) -> Iterator[None]:
    """``$MEDPAIR_DATA_DIR`` set to ``folder`` inside the block, restored after it (nothing when None)."""
    from medpair_tasks.family.sources import DATA_DIR_ENV

    if folder is None:
        yield
        return
    before = os.environ.get(DATA_DIR_ENV)
    os.environ[DATA_DIR_ENV] = str(folder)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(DATA_DIR_ENV, None)
        else:
            os.environ[DATA_DIR_ENV] = before
