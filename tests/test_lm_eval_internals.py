"""One test per lm-eval internal that medpair depends on (see ``medpair_tasks/lm_eval_internals.py``).

When an lm-eval release changes one of them, the test named after it fails here, with a message
that names the dependency, the internal and the installed lm-eval version. Every test of this
module is marked ``lmeval``: CI runs them (``pytest -m lmeval``) against the oldest and newest
lm-eval that setup.cfg allows and against lm-eval's main branch (``.ci/run``).
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from medpair_tasks import _startup
from medpair_tasks import lm_eval_internals as door
from medpair_tasks.clinical.safety import ENDPOINTS, IN_PROCESS, REMOTE_SERVICES, SAFE_OPTIONS
from medpair_tasks.registry import files_for, task_path

pytestmark = pytest.mark.lmeval

USER_TASK = "task: {name}\ndataset_path: json\ntest_split: test\noutput_type: multiple_choice\ndoc_to_text: q\n" \
            "doc_to_choice: ['a', 'b']\ndoc_to_target: 0\n"
REPOSITORY = Path(__file__).resolve().parents[1]
# lm-eval's public API as medpair_tasks/lm_eval_internals.py defines it: every dotted lm_eval name
# outside the door must match this.
PUBLIC = re.compile(
    r"lm_eval(\.(simple_evaluate|evaluate|__main__(\.cli_evaluate)?|evaluator(\.(simple_evaluate|evaluate))?"
    r"|tasks(\.(TaskManager|get_task_dict)(\.\w+)?)?|api(\.\w+)*|models(\.\w+)*|loggers(\.EvaluationTracker)?))?")
PUBLIC_MODULES = {"simple_evaluate", "evaluate", "evaluator", "tasks", "api", "models", "loggers"}


@contextmanager
def depends_on(number: int, internal: str) -> Iterator[None]:
    """Turn any failure in the block into one that names the dependency, the internal and lm-eval's version."""
    try:
        yield
    except Exception as error:  # an AssertionError, ImportError, AttributeError or TypeError: all mean "changed"
        pytest.fail(f"lm-eval {door.lm_eval_version()} changed {internal}, which medpair depends on (dependency "
                    f"{number} in medpair_tasks/lm_eval_internals.py): {type(error).__name__}: {error}")


def test_nothing_outside_the_door_names_an_internal():
    """A grep for ``lm_eval.`` outside the door finds only lm-eval's public API."""
    door_files = {Path(door.__file__).resolve(), Path(_startup.__file__).resolve()}
    offences = []
    for folder in ("medpair_tasks", "stats", "tests", "benchmarks"):
        for path in sorted((REPOSITORY / folder).rglob("*.py")):
            if path.resolve() in door_files:
                continue
            text = path.read_text(encoding="utf-8")
            for match in re.finditer(r"\blm_eval(?:\.\w+)+", text):
                if not PUBLIC.fullmatch(match.group()):
                    offences.append(f"{path.relative_to(REPOSITORY)}: {match.group()}")
            for match in re.finditer(r"from lm_eval import \(?\s*(\w[\w, ]*)", text):
                names = {name.strip() for name in match.group(1).split(",") if name.strip()}
                offences += [f"{path.relative_to(REPOSITORY)}: from lm_eval import {n}" for n in names - PUBLIC_MODULES]
    assert not offences, "lm-eval internals named outside medpair_tasks/lm_eval_internals.py:\n" + "\n".join(offences)


def test_the_start_up_hook_watches_the_modules_the_door_adapts():
    assert _startup.WATCHED == frozenset(door._ADAPTERS)


def test_1_task_manager_constructor_and_index_attributes(tmp_path):
    from lm_eval.tasks import TaskManager

    (tmp_path / "mine.yaml").write_text(USER_TASK.format(name="medpair_pubmedqa"))
    with depends_on(1, "TaskManager's constructor or its index attributes (_index, _all_tasks, _all_subtasks, ...)"):
        params = inspect.signature(TaskManager.__init__).parameters
        assert {"include_path", "include_defaults", "metadata"} <= set(params)
        manager = TaskManager(include_path=str(tmp_path), include_defaults=False)
        for attribute in ("_index", "_all_tasks", "_all_subtasks", "_all_groups", "_all_tags"):
            assert hasattr(manager, attribute), attribute
        door.add_entries(manager, files_for(["medpair_knowledge"]))
        assert manager.task_index["medpair_pubmedqa"].yaml_path == tmp_path / "mine.yaml"  # the user's wins
        assert "medpair_knowledge" in manager.all_groups and "medpair_pubmedqa" in manager.all_subtasks
        assert manager.all_tasks == sorted(manager.task_index)


def test_2_index_entries_equal_lm_evals_own_index():
    """medpair's shortcut index (one parse per include line) is what lm-eval's TaskIndex builds."""
    folders = [task_path() / "pubmedqa", task_path() / "clinical" / "casi", task_path() / "vqa" / "slake"]
    files = tuple(path for folder in folders for path in sorted(folder.rglob("*.yaml")))
    with depends_on(2, "its task index (tasks/_index.py: Kind, Entry, TaskIndex.build / process_cfg / _kind_of) "
                        "or its YAML reader (tasks/_yaml_loader.py: load_yaml)"):
        ours = door._entries(files)
        theirs = door.lm_eval_index(folders)
        assert {k: (e.kind, e.yaml_path) for k, e in ours.items()} == {k: (e.kind, e.yaml_path) for k, e in theirs.items()}
        assert door.read_task_yaml(files[0])["metadata"]["dataset"]


def test_3_from_cli_builds_the_config_the_guard_reads(tmp_path):
    run_file = tmp_path / "run.yaml"
    run_file.write_text("model: hf\nmodel_args: pretrained=from-file\ntasks: [medpair_pubmedqa]\n")
    with depends_on(3, "EvaluatorConfig of config/evaluate_config.py (from_cli, load_yaml_config, its fields)"):
        config_class = door.evaluator_config_class()
        door.install()
        assert getattr(config_class.from_cli, door._MARK, False)
        _, args = door.parse_lm_eval_args(["--model", "local-completions", "--model_args", "base_url=http://a",
                                           "--model_a", "base_url=http://b", "--tas", "medpair_pubmedqa"])
        config = config_class.from_cli(args)
        assert config.model_args["base_url"] == "http://b" and config.tasks
        assert door.config_file_tasks(str(run_file)) == ["medpair_pubmedqa"]
        _, from_file = door.parse_lm_eval_args(["--config", str(run_file)])
        assert config_class.from_cli(from_file).model_args == {"pretrained": "from-file"}
        unknown = set(door._field_defaults(config_class)) - SAFE_OPTIONS
        assert unknown == {"wandb_args", "wandb_config_args", "hf_hub_log_args", "trackio_args"}, unknown


def test_4_evaluator_functions_take_the_arguments_the_guard_reads():
    import lm_eval
    import lm_eval.evaluator

    with depends_on(4, "the parameters of simple_evaluate / evaluate"):
        door.install()
        simple = inspect.signature(lm_eval.evaluator.simple_evaluate).parameters
        assert {"model", "model_args", "tasks", "evaluation_tracker", "metadata", "task_manager"} <= set(simple)
        assert {"lm", "task_dict"} <= set(inspect.signature(lm_eval.evaluator.evaluate).parameters)
        assert getattr(lm_eval.simple_evaluate, door._MARK, False) and getattr(lm_eval.evaluator.evaluate, door._MARK, False)


def test_5_lm_evals_parser_is_reachable():
    with depends_on(5, "HarnessCLI of _cli/harness.py (_parser, _subparsers, the run / ls commands)"):
        cli, args = door.parse_lm_eval_args(["--model", "hf", "--tasks", "a,b"])
        assert {"run", "ls"} <= set(cli._subparsers.choices)
        assert args.command == "run" and args.tasks == ["a", "b"]
        _, listing = door.parse_lm_eval_args(["ls", "tasks"])
        assert listing.command == "ls"


def test_6_tasks_render_their_templates_through_the_cached_compilation(tmp_path):
    template, doc = "Q: {{ question }}{% for o in options %} ({{ loop.index }}) {{ o }}{% endfor %}", {
        "question": "Why?", "options": ["a", "b"]}
    with depends_on(6, "apply_template / env of utils.py (how ConfigurableTask renders a Jinja2 doc_to_text)"):
        expected = door.prompt_environment().from_string(template).render(**doc)
        door.cache_prompt_templates()
        task = _toy_task(tmp_path, doc_to_text=template, rows=[{**doc, "answer": 0}])
        before = door.template_cache_info().hits + door.template_cache_info().misses
        assert task.doc_to_text(task.eval_docs[0]) == expected == "Q: Why? (1) a (2) b"
        assert door.template_cache_info().hits + door.template_cache_info().misses == before + 1


def test_7_every_lm_eval_model_type_is_classified():
    from lm_eval.api.model import CachingLM
    from lm_eval.models import MODEL_MAPPING
    from lm_eval.models.api_models import TemplateAPI

    with depends_on(7, "MODEL_MAPPING / TemplateAPI / CachingLM"):
        assert set(MODEL_MAPPING) <= IN_PROCESS | REMOTE_SERVICES | ENDPOINTS, set(MODEL_MAPPING) - IN_PROCESS - REMOTE_SERVICES - ENDPOINTS
        assert "base_url" in inspect.signature(TemplateAPI.__init__).parameters
        assert "lm" in inspect.signature(CachingLM.__init__).parameters


def test_8_entry_point_declared_and_bridge_only_without_native_support(monkeypatch):
    # the installed distribution (a stale medpair.egg-info in a checkout's root may shadow it in entry_points())
    (installed,) = [d for d in metadata.distributions(name="medpair") if str(d.locate_file("")).startswith(sys.prefix)]
    (entry,) = [e for e in installed.entry_points if e.group == door.TASKS_ENTRY_POINT_GROUP and e.name == "medpair"]
    assert entry.value == "medpair_task_yaml"
    spec_dir = Path(__import__(entry.value).__file__).parent
    assert spec_dir.resolve() == task_path().resolve()
    with depends_on(8, "the module of TaskManager (where lm-eval would name the lm_eval.tasks entry-point group)"):
        assert not door.lm_eval_reads_task_entry_points() and door.discovery_enabled()
        manager_module = sys.modules[door.task_manager_class().__module__]
        monkeypatch.setattr(manager_module, "TASKS_ENTRY_POINT_GROUP", "lm_eval.tasks", raising=False)
        assert door.lm_eval_reads_task_entry_points() and not door.discovery_enabled()


def test_9_simple_evaluate_records_the_environment_through_the_replaceable_function():
    import lm_eval.evaluator

    with depends_on(9, "add_env_info (a global of the evaluator module that simple_evaluate calls)"):
        function = inspect.unwrap(lm_eval.evaluator.simple_evaluate)
        outside = inspect.getclosurevars(function).globals["add_env_info"]
        assert list(inspect.signature(outside).parameters) == ["storage"]
        with door.environment_recorded_once():
            inside = inspect.getclosurevars(function).globals["add_env_info"]
        assert inside is not outside and inspect.getclosurevars(function).globals["add_env_info"] is outside


# --------------------------------------------------------------------------- a toy task and a toy model
def _toy_config(tmp_path: Path, name: str = "medpair_door_toy", rows: list[dict] | None = None, **fields: Any) -> dict:
    """An lm-eval task config over a local JSON file: 4 test and 3 few-shot rows unless ``rows`` are given."""
    rows = rows or [{"question": f"question {i}", "answer": i % 2} for i in range(4)]
    shots = [{"question": f"shot {i}", "answer": i % 2} for i in range(3)]
    files = {}
    for split, data in (("test", rows), ("train", shots)):
        files[split] = tmp_path / f"{name}_{split}.jsonl"
        files[split].write_text("".join(json.dumps(row) + "\n" for row in data))
    return {"task": name, "dataset_path": "json", "dataset_kwargs": {"data_files": {k: str(v) for k, v in files.items()}},
            "test_split": "test", "fewshot_config": {"split": "train", "sampler": "first_n"},  # as medpair's YAMLs
            "output_type": "multiple_choice", "doc_to_text": "{{ question }}", "doc_to_choice": ["no", "yes"],
            "doc_to_target": "{{ answer }}", "metadata": {"version": 0}, **fields}


def _toy_task(tmp_path: Path, **fields: Any) -> Any:
    from lm_eval.api.task import ConfigurableTask

    return ConfigurableTask(config=_toy_config(tmp_path, **fields))


def _constant_lm() -> Any:
    from lm_eval.api.model import LM

    class ConstantLM(LM):
        """Every continuation gets log-probability -1; nothing is generated."""

        def loglikelihood(self, requests: list) -> list[tuple[float, bool]]:
            return [(-1.0, False) for _ in requests]

        def loglikelihood_rolling(self, requests: list) -> list[float]:
            return [-1.0 for _ in requests]

        def generate_until(self, requests: list) -> list[str]:
            return ["" for _ in requests]

    return ConstantLM()


def test_10_fewshot_context_shows_the_demonstrations_medpair_hands_it(tmp_path):
    with depends_on(10, "the few-shot split named by fewshot_config.split, FirstNSampler keeping it in .df, or "
                        "ConfigurableTask.fewshot_context taking its demonstrations from self.sampler.sample(n=...)"):
        task = _toy_task(tmp_path, num_fewshot=2)
        pool = door.fewshot_pool(task)
        assert [shot["question"] for shot in pool] == ["shot 0", "shot 1", "shot 2"]
        doc = task.eval_docs[0]
        with door.showing_demonstrations(task, [pool[2], pool[0]]):
            prompt = task.fewshot_context(doc, 2)
        assert prompt.index("shot 2") < prompt.index("shot 0") < prompt.index("question 0") and "shot 1" not in prompt
        assert door.fewshot_pool(task) == pool  # the task's own sampler is back


def test_15_a_replaced_filter_is_the_one_apply_filters_runs(tmp_path):
    with depends_on(15, "build_filter_ensemble of lm-eval's filters (custom, take_first), Task._filters or "
                        "Task.apply_filters"):
        task = _toy_task(tmp_path, output_type="generate_until", generation_kwargs={"until": ["\n"]},
                         filter_list=[{"name": "extract", "filter": [{"function": "take_first"}]}])
        door.replace_filters(task, "extract", lambda responses, docs: [[text.upper() for text in texts]
                                                                      for texts in responses])
        task.build_all_requests(limit=2, rank=0, world_size=1)
        for instance in task.instances:
            instance.resps = ["answer a", "answer b"]
        task.apply_filters()
        assert [instance.filtered_resps for instance in task.instances] == [{"extract": "ANSWER A"}] * 2


def test_11_evaluate_dumps_a_task_config_after_building_its_requests(tmp_path):
    from lm_eval.api.task import ConfigurableTask
    from lm_eval.tasks import TaskManager

    calls: list[str] = []

    class Recording(ConfigurableTask):
        def build_all_requests(self, *args: Any, **kwargs: Any) -> Any:
            calls.append("requests")
            return super().build_all_requests(*args, **kwargs)

        def dump_config(self) -> dict:
            calls.append("config")
            return super().dump_config()

    with depends_on(11, "evaluate calling Task.dump_config after Task.build_all_requests"):
        task = Recording(config=_toy_config(tmp_path))
        with door.index_scope(door.IndexScope(files=(), include_defaults=False)):
            task_dict = TaskManager().load([task])
        import lm_eval.evaluator

        results = lm_eval.evaluator.evaluate(lm=_constant_lm(), task_dict=task_dict, bootstrap_iters=0)
        assert "requests" in calls and "config" in calls and calls.index("config") > calls.index("requests"), calls
        assert "medpair_door_toy" in results["configs"]


def test_12_model_arguments_reach_the_task_metadata(tmp_path):
    import lm_eval

    model_args = "pretrained=some/tokenizer,max_length=300"
    with depends_on(12, "lm-eval merging --model_args into the task metadata (command line; simple_evaluate "
                        "without a task manager)"):
        _, args = door.parse_lm_eval_args(["--model", "hf", "--model_args", model_args, "--tasks", "medpair_pubmedqa"])
        config = door.evaluator_config_class().from_cli(args)
        assert config.metadata["pretrained"] == "some/tokenizer" and str(config.metadata["max_length"]) == "300"
        with door.index_scope(door.IndexScope(files=(), include_defaults=False)), door.environment_recorded_once():
            results = lm_eval.simple_evaluate(model=_constant_lm(), model_args=model_args, limit=1, bootstrap_iters=0,
                                              tasks=[_toy_config(tmp_path)])
        written = results["configs"]["medpair_door_toy"]["metadata"]
        assert written["pretrained"] == "some/tokenizer" and str(written["max_length"]) == "300", written


def test_13_lm_evals_document_and_image_encodings(tmp_path):
    import numpy as np
    from PIL import Image

    with depends_on(13, "handle_non_serializable / convert_pil_to_hash / simple_parse_args_string of utils.py"):
        assert json.loads(json.dumps({"ids": {3}, "n": np.int64(2)}, default=door.json_default)) == {"ids": [3], "n": 2}
        image = Image.new("RGB", (2, 2), "red")
        assert door.image_hash(image) == door.image_hash(image.copy()) != door.image_hash(Image.new("RGB", (2, 2), "blue"))
        assert door.parse_model_args("pretrained=x,max_length=300") == {"pretrained": "x", "max_length": 300}


def test_14_the_tracker_names_its_files_from_the_replaceable_clock(tmp_path):
    from datetime import datetime

    from lm_eval.loggers import EvaluationTracker

    class Fixed(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> datetime:
            return datetime(2001, 2, 3, 4, 5, 6)

    with depends_on(14, "the datetime of loggers/evaluation_tracker.py (the clock of the results file name)"):
        tracker = EvaluationTracker(output_path=str(tmp_path))
        tracker.general_config_tracker.log_experiment_args(model_source="hf", model_args="pretrained=m",
                                                           system_instruction=None, chat_template=None,
                                                           fewshot_as_multiturn=False)
        with door.tracker_clock(Fixed):
            tracker.save_results_aggregated(results={"results": {}, "config": {"model": "hf"}}, samples={})
        assert [p.name for p in tmp_path.rglob("results_*.json")] == ["results_2001-02-03T04-05-06.json"]


def _fresh_python(code: str, **env: str) -> str:
    import os

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", **env})
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_startup_hook_adds_medpair_tasks_to_plain_task_managers(tmp_path):
    """A fresh interpreter (the .pth hook, no medpair import): built-ins off for speed; the user's file wins."""
    (tmp_path / "mine.yaml").write_text(USER_TASK.format(name="medpair_pubmedqa"))
    code = ("from lm_eval.tasks import TaskManager\n"
            "import sys\n"
            "m = TaskManager(include_path=sys.argv[1] if len(sys.argv) > 1 else None, include_defaults=False)\n"
            "print(len(m.all_tasks), m.task_index['medpair_pubmedqa'].yaml_path if m.all_tasks else None)\n")
    count, path = _fresh_python(code).split()
    assert int(count) == 6189 and Path(path) == task_path() / "pubmedqa" / "medpair_pubmedqa.yaml"
    assert _fresh_python(code, MEDPAIR_LM_EVAL_PLUGIN="0").split() == ["0", "None"]
    mine = _fresh_python(code.replace("sys.argv[1] if len(sys.argv) > 1 else None", repr(str(tmp_path)))).split()
    assert mine == ["6189", str(tmp_path / "mine.yaml")]


def test_guard_is_installed_even_with_discovery_off():
    code = ("import lm_eval.evaluator\n"
            "from medpair_tasks.lm_eval_internals import evaluator_config_class\n"
            "print(hasattr(lm_eval.evaluator.simple_evaluate, '_medpair_adapted'), "
            "hasattr(evaluator_config_class().from_cli, '_medpair_adapted'))\n")
    assert _fresh_python(code, MEDPAIR_LM_EVAL_PLUGIN="0").split() == ["True", "True"]


def test_index_scope_is_restored():
    from lm_eval.tasks import TaskManager

    door.install()
    with door.index_scope(door.IndexScope(files_for(["medpair_pubmedqa"]), include_defaults=False)):
        narrow = TaskManager()
    assert narrow.all_tasks == ["medpair_pubmedqa"]
    assert door._SCOPE.get() is None
    assert dataclasses.is_dataclass(door.IndexScope)


def test_requested_names_map_to_their_files_only():
    from medpair_tasks.registry import datasets_of

    group = files_for(["medpair_n2c2_obesity"])
    assert [p.stem for p in group] == ["medpair_n2c2_obesity", "medpair_n2c2_obesity_asthma", "medpair_n2c2_obesity_cad",
                                       "medpair_n2c2_obesity_diabetes", "medpair_n2c2_obesity_obesity"]
    assert datasets_of(group) == {"n2c2_obesity_asthma", "n2c2_obesity_cad", "n2c2_obesity_diabetes", "n2c2_obesity_obesity"}
    assert len(files_for(["medpair_pubmedqa_mc_f0?_k0"])) == 10
    assert datasets_of(files_for(["medpair_knowledge"])) >= {"medqa", "pubmedqa", "mmlu_anatomy"}
    assert files_for(["medpair_pubmedqa", "arc_easy"]) is None and files_for(["*pubmedqa"]) is None


def test_16_loglikelihood_encodes_through_the_models_tok_encode():
    """A 4-option question: lm-eval asks ``tok_encode`` 8 times; with encodings remembered, the tokenizer runs 5 times."""
    from lm_eval.api.model import TemplateLM

    class CountingLM(TemplateLM):
        """Tokens are character codes; it records every string it encodes and scores every continuation -1."""

        def __init__(self) -> None:
            super().__init__()
            self.encoded: list[str] = []

        @property
        def eot_token_id(self) -> int:
            return 0

        def tok_encode(self, string: str, add_special_tokens: bool | None = None, **kwargs: Any) -> list[int]:
            self.encoded.append(string)
            return [ord(c) for c in string]

        def _loglikelihood_tokens(self, requests: list, **kwargs: Any) -> list[tuple[float, bool]]:
            self.pairs = [(list(context), list(continuation)) for _, context, continuation in requests]
            return [(-1.0, False) for _ in requests]

        def loglikelihood_rolling(self, requests: list, disable_tqdm: bool = False) -> list[float]:
            return [-1.0 for _ in requests]

        def generate_until(self, requests: list, disable_tqdm: bool = False) -> list[str]:
            return ["" for _ in requests]

    from lm_eval.api.instance import Instance

    requests = [Instance("loglikelihood", {}, ("Question: x?\nAnswer:", f" {letter}"), index) for index, letter in enumerate("ABCD")]
    with depends_on(16, "TemplateLM.loglikelihood encoding every request's context and context + continuation with tok_encode"):
        plain, remembering = CountingLM(), CountingLM()
        door.remember_encodings(remembering)
        assert plain.loglikelihood(requests, disable_tqdm=True) == remembering.loglikelihood(requests, disable_tqdm=True)
        assert len(plain.encoded) == 8 and plain.encoded.count("Question: x?\nAnswer:") == 4
    assert remembering.pairs == plain.pairs  # the same token ids reach the model
    assert sorted(remembering.encoded) == sorted(set(plain.encoded)) and len(remembering.encoded) == 5
    door.remember_encodings(remembering, size=1)  # a memory of one: A's context is forgotten by the time B comes
    remembering.encoded.clear()
    remembering.tok_encode("a")[0] = -1  # the caller's copy, not the memory's
    assert remembering.tok_encode("a") == [ord("a")] and remembering.encoded == ["a"]
