"""The ``clue2024`` protocol against the stored outputs of CLUE's own code (tests/fixtures/clue2024).

The expected prompts, item and demonstration ids, LongHealth document orders and extractions
were produced by running CLUE's evaluation scripts once, offline, on the fixtures in
``tests/fixtures/clue2024/data`` (see ``tests/fixtures/clue2024/reference/NOTE.md``); here
medpair's versions must equal them character for character.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
from collections import defaultdict
from functools import cache
from pathlib import Path

import pytest
from medpair_testlib import write_tiny_bert

from medpair_tasks.clinical import clue2024
from medpair_tasks.clinical.bertscore import BertScoreConfig, scorer
from medpair_tasks.clinical.clue2024 import hooks as clue_hooks
from medpair_tasks.clinical.clue2024 import umls
from medpair_tasks.clinical.truncate import HFCounter

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "clue2024"
DATA = FIXTURES / "data"
TOKENIZER = FIXTURES / "tokenizer"
GENERATIVE = ("mednli", "meqsum", "probsum", "medisumqa", "medisumcode")
ICD_NAMES = {
    "ICD EM P": "icd_exact_precision", "ICD EM R": "icd_exact_recall", "ICD EM F1": "icd_exact_f1",
    "ICD AP P": "icd_3char_precision", "ICD AP R": "icd_3char_recall", "ICD AP F1": "icd_3char_f1",
    "VALID CODES": "icd_valid_share",
}


@cache
def reference() -> dict[tuple[str, str], list[dict]]:
    """The reference run's prompts per (task, run)."""
    lines = defaultdict(list)
    with gzip.open(FIXTURES / "reference" / "prompts.jsonl.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            record = json.loads(line)
            lines[(record["task"], record.get("run", "main"))].append(record)
    return dict(lines)


@cache
def tokenizer():
    """The fixture tokenizer with phi-4's chat template (the same folder the reference run used)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(TOKENIZER))


def render(messages: list[dict]) -> str:
    """What lm-eval's hf model does with a chat: the template with the generation prompt."""
    return tokenizer().apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


@pytest.fixture()
def clue_data(monkeypatch: pytest.MonkeyPatch) -> Path:
    """``$MEDPAIR_DATA_DIR`` pointing at the CLUE-schema fixtures."""
    monkeypatch.setenv("MEDPAIR_DATA_DIR", str(DATA))
    return DATA


def docs_of(task: str) -> list[dict]:
    """medpair's scored documents of ``task`` under ``clue2024``."""
    folder = DATA / ("longhealth" if task.startswith("longhealth") else task)
    return clue2024.clue_docs(task, folder, "test")


@pytest.mark.parametrize("task", GENERATIVE)
def test_items_demonstrations_and_prompts_equal_clues(task: str, clue_data: Path) -> None:
    expected = reference()[(task, "main")]
    docs = docs_of(task)
    hooks = clue2024.ClueTaskHooks(task, {"protocol": "clue2024", "dataset": task})
    assert [d["item_key"] for d in docs] == [e["item_key"] for e in expected]
    assert [d["demo_keys"] for d in docs] == [e["demo_keys"] for e in expected]
    assert len(expected[0]["demo_keys"]) == clue2024.PROMPTS[task].shots
    for doc, want in zip(docs, expected):
        assert render(hooks.messages(doc)) == want["prompt"]
        assert hooks.messages(doc)[0]["role"] == "system"


@pytest.mark.parametrize("task", ("longhealth_task1", "longhealth_task2", "longhealth_task3"))
def test_longhealth_repeats_orders_and_prompts_equal_clues(task: str, clue_data: Path) -> None:
    expected = reference()[(task, "longhealth")]
    docs = docs_of(task)
    assert [d["item_key"] for d in docs] == [e["item_key"] for e in expected]
    assert all(e["documents"] and None not in e["documents"] for e in expected)
    shown = [[d["clue_documents"][i] for i in d["shuffle_order"]] for d in docs]
    assert shown == [e["documents"] for e in expected]
    orders = {tuple(s) for s in shown}
    assert len(orders) > len(shown) // 5  # the repeats of a question differ, not only the questions
    counter = HFCounter(tokenizer(), str(TOKENIZER))
    hooks = clue2024.ClueTaskHooks(task, {"protocol": "clue2024", "dataset": task})
    for doc, want in zip(docs, expected):
        assert render(hooks.messages(doc, counter, 16384)) == want["prompt"]


def test_longhealth_repeats_share_their_patient_cluster(clue_data: Path) -> None:
    docs = docs_of("longhealth_task1")
    by_question = defaultdict(set)
    for doc in docs:
        by_question[doc["item_key"].rsplit("/", 1)[0]].add(doc["cluster"])
    assert all(len(clusters) == 1 for clusters in by_question.values())
    assert {len([d for d in docs if d["item_key"].startswith(q + "/")]) for q in by_question} == {5}


@pytest.mark.parametrize("task", ("longhealth_task1", "longhealth_task2", "longhealth_task3"))
def test_longhealth_cut_documents_and_their_draws_equal_clues(task: str, clue_data: Path) -> None:
    """With budgets that cut documents (CLUE's ``--max_len 1100``, a 1,300-token model), CLUE
    shuffles the documents it keeps, so every later draw depends on the cuts: medpair's documents,
    drawn with the run's tokenizer and budget, and prompts equal CLUE's."""
    expected = reference()[(task, "longhealth_cut")]
    metadata = {"protocol": "clue2024", "dataset": task, "tokenizer": str(TOKENIZER), "max_length": 1300,
                "longhealth_max_len": 1100}
    docs = clue2024.clue_docs(task, DATA / "longhealth", "test", metadata)
    assert sum(None in want["documents"] for want in expected) > 0  # the budget did cut
    counter = HFCounter(tokenizer(), str(TOKENIZER))
    hooks = clue2024.ClueTaskHooks(task, metadata)
    assert [d["item_key"] for d in docs] == [e["item_key"] for e in expected]
    for doc, want in zip(docs, expected):
        assert render(hooks.messages(doc, counter, 1300)) == want["prompt"]


def test_generation_lengths_equal_clues() -> None:
    for (task, _), lines in reference().items():
        assert {line["max_tokens"] for line in lines} == {clue2024.prompt_of(task).max_tokens}


@cache
def extraction_cases() -> list[dict]:
    """CLUE's own scoring functions on the canned generations."""
    path = FIXTURES / "reference" / "extraction.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_extraction_and_scores_equal_clues_on_the_corpus() -> None:
    cases = extraction_cases()
    assert len(cases) >= 200
    for case in cases:
        generation, gold, want = case["generation"], case["gold"], case["reference"]
        if case["task"] == "mednli":
            assert clue2024.mednli_correct(generation, gold) == want["ACCURACY"], case
        elif case["task"] == "longhealth":
            assert clue2024.longhealth_choice(generation) == want["choice"], case
            doc = {"dataset": "longhealth_task1", "gold_letter": gold}
            assert clue2024.score(doc, clue2024.extract(doc, generation))["acc"] == float(want["correct"]), case
        else:
            got = clue2024.icd_scores(generation, gold)
            assert {ICD_NAMES[k]: v for k, v in want.items()} == pytest.approx(got), case


@pytest.mark.parametrize("task", ("mednli", "medisumcode", "longhealth_task1", "longhealth_task2",
                                  "longhealth_task3"))
def test_per_item_scores_of_the_run_equal_clues(task: str, clue_data: Path) -> None:
    run = "longhealth" if task.startswith("longhealth") else "main"
    for doc, want in zip(docs_of(task), reference()[(task, run)], strict=True):
        scores = clue2024.score(doc, clue2024.extract(doc, want["generation"]))
        logged = want["predictions_json"]
        if task == "mednli":
            assert scores == {"acc": logged["ACCURACY"]}
        elif task == "medisumcode":
            assert scores == pytest.approx({ICD_NAMES[k]: logged[k] for k in ICD_NAMES})
        else:
            assert clue2024.extract(doc, want["generation"]) == logged["Model Answer"]
            assert doc["gold_letter"] == logged["Ground Truth Answer"]
            assert scores["acc"] == float(logged["Correct"])


class _ChatModel:
    """The part of lm-eval's hf model that renders chats: its ``apply_chat_template`` on the fixture tokenizer."""

    chat_template_args: dict = {}

    def __init__(self) -> None:
        self.tokenizer = tokenizer()

    def apply_chat_template(self, chat_history: list[dict], add_generation_prompt: bool = True) -> str:
        from lm_eval.models.huggingface import HFLM

        return HFLM.apply_chat_template(self, chat_history, add_generation_prompt)  # type: ignore[arg-type]


def _task(dataset: str, name: str):
    from lm_eval.tasks import TaskManager

    from medpair_tasks.registry import task_path

    folder = task_path() / "clinical" / dataset
    manager = TaskManager(include_path=str(folder), include_defaults=False,
                          metadata={"protocol": "clue2024", "tokenizer": str(TOKENIZER), "max_length": 16384})
    return manager.load([name])["tasks"][name]


@pytest.mark.parametrize(("dataset", "name"), [("mednli", "medpair_mednli_gen"), ("medisumcode", "medpair_medisumcode"),
                                               ("longhealth_task2", "medpair_longhealth_task2_gen")])
def test_lm_eval_logs_clues_prompt_and_scores_as_clue(dataset: str, name: str, clue_data: Path) -> None:
    task = _task(dataset, name)
    assert task.config.metadata["protocol"] == "clue2024"
    task.build_all_requests(rank=0, world_size=1, apply_chat_template=True, chat_template=_ChatModel().apply_chat_template)
    run = "longhealth" if dataset.startswith("longhealth") else "main"
    expected = reference()[(dataset, run)]
    instances = sorted(task.instances, key=lambda inst: inst.doc_id)
    assert [inst.arguments[0] for inst in instances] == [e["prompt"] for e in expected]
    kwargs = instances[0].arguments[1]
    assert (kwargs["max_gen_toks"], kwargs["do_sample"], kwargs["temperature"]) == (expected[0]["max_tokens"], True, 1.0)
    for inst, want in zip(instances, expected):
        inst.resps = [want["generation"]]
    task.apply_filters()
    for inst, want in zip(instances, expected):
        (filter_name, filtered), = inst.filtered_resps.items()
        scores = task.process_results(inst.doc, [filtered])
        logged = want["predictions_json"]
        if dataset == "mednli":
            assert scores["acc"] == logged["ACCURACY"]
        elif dataset == "medisumcode":
            assert scores == pytest.approx({ICD_NAMES[k]: logged[k] for k in ICD_NAMES})
        else:
            assert filtered == logged["Model Answer"] and scores["acc"] == float(logged["Correct"])


def test_clue2024_refuses_likelihood_scoring_and_prompts_without_a_chat_template(clue_data: Path) -> None:
    with pytest.raises(ValueError, match="by generation"):
        _task("mednli", "medpair_mednli")
    task = _task("mednli", "medpair_mednli_gen")
    with pytest.raises(ValueError, match="apply_chat_template"):
        task.build_all_requests(rank=0, world_size=1)


def test_medpair_run_refuses_clue2024() -> None:
    from medpair_tasks.study.plan import StudyConfig

    with pytest.raises(ValueError, match="clue2024 protocol covers CLUE's clinical tasks"):
        StudyConfig(datasets=("medqa",), protocol="clue2024")


@pytest.fixture(scope="module")
def nine_layer_bert(tmp_path_factory) -> Path:
    """A randomly initialised 9-layer BERT (layer 8 exists) with a trained WordPiece tokenizer."""
    texts = ["what is the dose of aspirin for chest pain", "hypertension and type 2 diabetes"]
    return write_tiny_bert(tmp_path_factory.mktemp("bert9"), texts, layers=9, hidden=16)


def test_bertscore_is_clues_en_sci_with_a_local_override(nine_layer_bert: Path) -> None:
    import torch
    from transformers import AutoModel, AutoTokenizer

    default = clue2024.bertscore_settings({})
    assert (default.model, default.layer, default.max_length) == ("allenai/scibert_scivocab_uncased", 8, 512)
    hooks = clue2024.ClueTaskHooks("meqsum", {"protocol": "clue2024", "dataset": "meqsum",
                                              "bertscore_model": str(nine_layer_bert)})
    candidate, reference_text = "What is the dose of aspirin?", "aspirin dose for chest pain"
    scores = hooks.score({"dataset": "meqsum", "reference": reference_text}, [f"  {candidate}\n"])
    tokenizer, model = AutoTokenizer.from_pretrained(nine_layer_bert), AutoModel.from_pretrained(nine_layer_bert).eval()

    def unit_vectors(text: str) -> list:
        with torch.no_grad():
            states = model(**tokenizer(text, return_tensors="pt"), output_hidden_states=True).hidden_states[8][0]
        return [v / v.norm() for v in states]  # [CLS] first, [SEP] last

    def f1(cand: list, ref: list, rows: slice, cols: slice) -> float:
        precision = sum(max(float(c @ r) for r in ref[cols]) for c in cand[1:-1]) / len(cand[1:-1])
        recall = sum(max(float(c @ r) for c in cand[rows]) for r in ref[1:-1]) / len(ref[1:-1])
        return 2 * precision * recall / (precision + recall)

    # bert_score: [CLS] and [SEP] weigh nothing but may be a token's best match on the other side
    cand, ref = unit_vectors(candidate), unit_vectors(reference_text)
    assert scores["bertscore_f1"] == pytest.approx(f1(cand, ref, slice(None), slice(None)), abs=1e-5)
    words = ["aspirin", "dose", "pain", "chest", "hypertension", "diabetes", "type", "what", "aspirin"]
    settings = clue2024.bertscore_settings({"bertscore_model": str(nine_layer_bert)})
    assert set(scores) == {"rouge1", "rouge2", "rougeL", "bertscore_f1"}
    for one, other in zip(words, words[1:]):  # one-token texts: [CLS] or [SEP] is often the best match
        cand, ref = unit_vectors(one), unit_vectors(other)
        assert scorer(settings).score(one, other)[2] == pytest.approx(f1(cand, ref, slice(None), slice(None)), abs=1e-5)


def test_bertscore_matching_lets_a_special_token_be_the_best_match(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unit vectors chosen so that the reference's [SEP] is the candidate word's best match: bert_score
    (CLUE) scores precision 1 for it, the special-free rule (medpair's own) the cosine to the word."""
    import torch

    from medpair_tasks.clinical.bertscore import BertScorer

    vectors = {"cand": torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]),  # [CLS] word [SEP]
               "ref": torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]])}
    special = torch.tensor([True, False, True])
    monkeypatch.setattr(BertScorer, "__init__", lambda self, config: setattr(self, "config", config))
    monkeypatch.setattr(BertScorer, "_embed", lambda self, text: (vectors[text], special))
    clue = BertScorer(clue2024.bertscore_settings({})).score("cand", "ref")
    own = BertScorer(BertScoreConfig("any", 8)).score("cand", "ref")
    assert clue == pytest.approx((1.0, 0.8, 2 * 0.8 / 1.8))  # the word matches [SEP]; ref's word matches cand's
    assert own == pytest.approx((0.8, 0.8, 0.8))


class _FakeLinker:
    """Concept names for a few phrases, as a UMLS linker would return them (no spaCy needed)."""

    CONCEPTS = {"hypertension": "Hypertensive disease", "dm2": "Diabetes Mellitus, Non-Insulin-Dependent",
                "type 2 diabetes": "Diabetes Mellitus, Non-Insulin-Dependent", "ckd": "Chronic Kidney Diseases"}

    def concepts(self, text: str) -> set[str]:
        return {name for phrase, name in self.CONCEPTS.items() if phrase in text.lower()}


def _scispacy(monkeypatch: pytest.MonkeyPatch, installed: bool) -> None:
    """Make scispaCy and spaCy look installed (or not) to medpair's check, and the linker the fake."""
    real = importlib.util.find_spec
    monkeypatch.setattr(umls.importlib.util, "find_spec",
                        lambda name, *rest: (object() if installed else None) if name in ("spacy", "scispacy")
                        else real(name, *rest))
    monkeypatch.setattr(clue_hooks, "load_linker", lambda pipeline: _FakeLinker())


def test_umls_f1_is_clues_set_rule_on_linked_concepts() -> None:
    got = umls.umls_scores("Hypertension, DM2 and CKD.", "hypertension; type 2 diabetes", _FakeLinker())
    assert got == pytest.approx({"umls_precision": 2 / 3, "umls_recall": 1.0, "umls_f1": 0.8})
    assert umls.umls_scores("no findings", "hypertension", _FakeLinker()) == {
        "umls_precision": 0.0, "umls_recall": 0.0, "umls_f1": 0.0}
    assert umls.umls_scores("CKD", "nothing known", _FakeLinker())["umls_recall"] == 0.0


def test_umls_scores_are_added_when_a_pipeline_is_named(monkeypatch: pytest.MonkeyPatch, clue_data: Path) -> None:
    _scispacy(monkeypatch, installed=True)
    metadata = {"protocol": "clue2024", "dataset": "probsum", "umls_pipeline": "en_core_sci_sm"}
    doc = {"dataset": "probsum", "reference": "hypertension, type 2 diabetes"}
    scores = clue2024.ClueTaskHooks("probsum", metadata).score(doc, ["Hypertension and CKD"])
    assert (scores["umls_precision"], scores["umls_recall"], scores["umls_f1"]) == pytest.approx((0.5, 0.5, 0.5))
    assert "umls_f1" not in clue2024.ClueTaskHooks("meqsum", {**metadata, "dataset": "meqsum"}).score(
        {"dataset": "meqsum", "reference": "hypertension"}, ["Hypertension"])  # CLUE reports it for two tasks
    from lm_eval.tasks import TaskManager

    from medpair_tasks.registry import task_path

    manager = TaskManager(include_path=str(task_path() / "clinical" / "probsum"), include_defaults=False,
                          metadata={"protocol": "clue2024", "umls_pipeline": "en_core_sci_sm"})
    task = manager.load(["medpair_probsum"])["tasks"]["medpair_probsum"]
    assert task.aggregation()["umls_f1"]([0.0, 1.0]) == 0.5 and task.higher_is_better()["umls_f1"] is True


def test_umls_without_scispacy_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    _scispacy(monkeypatch, installed=False)
    with pytest.raises(ValueError, match="pip install scispacy"):
        clue2024.ClueTaskHooks("medisumqa", {"protocol": "clue2024", "dataset": "medisumqa", "umls_pipeline": "x"})


def test_longhealth_counts_and_cuts_as_clues_encode_and_decode(clue_data: Path) -> None:
    """With a tokenizer that adds a beginning-of-text token (Llama, Mistral), CLUE's budget counts it
    in every ``len(tokenizer.encode(...))`` and its cut document keeps it (``decode(encode(doc)[:n])``)."""
    from transformers import AutoTokenizer

    expected = json.loads((FIXTURES / "reference" / "longhealth_bos.json").read_text(encoding="utf-8"))
    counter = HFCounter(AutoTokenizer.from_pretrained(str(FIXTURES / "tokenizer_bos")), "tokenizer_bos")
    hooks = clue2024.ClueTaskHooks("longhealth_task2", {"protocol": "clue2024", "dataset": "longhealth_task2"})
    docs = {doc["item_key"]: doc for doc in docs_of("longhealth_task2")}
    assert sum("<|endoftext|>" in want["user_turn"] for want in expected) > 0  # CLUE's cuts keep the token
    for want in expected:
        doc = dict(docs[want["item_key"]])
        assert doc["clue_documents"] == want["answers"] + want["distractors"]
        doc["shuffle_order"] = list(range(len(doc["clue_documents"])))  # the reference ran with shuffle=False
        assert hooks.messages(doc, counter, want["max_model_len"])[1]["content"] == want["user_turn"]
