"""One test per lm-eval internal that medpair depends on (see ``medpair_tasks/lm_eval_internals.py``).

When an lm-eval release changes one of them, the test named after it fails here.
"""

from __future__ import annotations

import dataclasses
import inspect
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from medpair_tasks import lm_eval_internals as door
from medpair_tasks.clinical.safety import ENDPOINTS, IN_PROCESS, REMOTE_SERVICES, SAFE_OPTIONS
from medpair_tasks.registry import files_for, task_path

USER_TASK = "task: {name}\ndataset_path: json\ntest_split: test\noutput_type: multiple_choice\ndoc_to_text: q\n" \
            "doc_to_choice: ['a', 'b']\ndoc_to_target: 0\n"


def test_1_task_manager_constructor_and_index_attributes(tmp_path):
    from lm_eval.tasks import TaskManager

    (tmp_path / "mine.yaml").write_text(USER_TASK.format(name="medpair_pubmedqa"))
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
    from lm_eval.tasks._index import TaskIndex

    folders = [task_path() / "pubmedqa", task_path() / "clinical" / "casi", task_path() / "vqa" / "slake"]
    files = tuple(path for folder in folders for path in sorted(folder.rglob("*.yaml")))
    ours = door._entries(files)
    theirs = TaskIndex.build(folders)
    assert {k: (e.kind, e.yaml_path) for k, e in ours.items()} == {k: (e.kind, e.yaml_path) for k, e in theirs.items()}
    assert door.read_task_yaml(files[0])["metadata"]["dataset"]


def test_3_from_cli_builds_the_config_the_guard_reads():
    from lm_eval.config.evaluate_config import EvaluatorConfig

    door.install()
    assert getattr(EvaluatorConfig.from_cli, door._MARK, False)
    _, args = door.parse_lm_eval_args(["--model", "local-completions", "--model_args", "base_url=http://a",
                                       "--model_a", "base_url=http://b", "--tas", "medpair_pubmedqa"])
    config = EvaluatorConfig.from_cli(args)
    assert config.model_args["base_url"] == "http://b" and config.tasks
    unknown = set(door._field_defaults(EvaluatorConfig)) - SAFE_OPTIONS
    assert unknown == {"wandb_args", "wandb_config_args", "hf_hub_log_args", "trackio_args"}, unknown


def test_4_evaluator_functions_take_the_arguments_the_guard_reads():
    import lm_eval
    import lm_eval.evaluator

    door.install()
    simple = inspect.signature(lm_eval.evaluator.simple_evaluate).parameters
    assert {"model", "model_args", "tasks", "evaluation_tracker", "metadata", "task_manager"} <= set(simple)
    assert {"lm", "task_dict"} <= set(inspect.signature(lm_eval.evaluator.evaluate).parameters)
    assert getattr(lm_eval.simple_evaluate, door._MARK, False) and getattr(lm_eval.evaluator.evaluate, door._MARK, False)


def test_5_lm_evals_parser_is_reachable():
    cli, args = door.parse_lm_eval_args(["--model", "hf", "--tasks", "a,b"])
    assert {"run", "ls"} <= set(cli._subparsers.choices)
    assert args.command == "run" and args.tasks == ["a", "b"]
    _, listing = door.parse_lm_eval_args(["ls", "tasks"])
    assert listing.command == "ls"


def test_6_cached_templates_render_the_same_text():
    import lm_eval.utils

    template, doc = "Q: {{ question }}{% for o in options %} ({{ loop.index }}) {{ o }}{% endfor %}", {
        "question": "Why?", "options": ["a", "b"]}
    expected = lm_eval.utils.env.from_string(template).render(**doc)
    door.cache_prompt_templates()
    assert lm_eval.utils.apply_template(template, doc) == expected == "Q: Why? (1) a (2) b"


def test_7_every_lm_eval_model_type_is_classified():
    from lm_eval.api.model import CachingLM
    from lm_eval.models import MODEL_MAPPING
    from lm_eval.models.api_models import TemplateAPI

    assert set(MODEL_MAPPING) <= IN_PROCESS | REMOTE_SERVICES | ENDPOINTS, set(MODEL_MAPPING) - IN_PROCESS - REMOTE_SERVICES - ENDPOINTS
    assert "base_url" in inspect.signature(TemplateAPI.__init__).parameters
    assert "lm" in inspect.signature(CachingLM.__init__).parameters


def test_8_entry_point_declared_and_bridge_only_without_native_support(monkeypatch):
    import lm_eval.tasks.manager

    # the installed distribution (a stale medpair.egg-info in a checkout's root may shadow it in entry_points())
    (installed,) = [d for d in metadata.distributions(name="medpair") if str(d.locate_file("")).startswith(sys.prefix)]
    (entry,) = [e for e in installed.entry_points if e.group == door.TASKS_ENTRY_POINT_GROUP and e.name == "medpair"]
    assert entry.value == "medpair_task_yaml"
    spec_dir = Path(__import__(entry.value).__file__).parent
    assert spec_dir.resolve() == task_path().resolve()
    assert not door.lm_eval_reads_task_entry_points() and door.discovery_enabled()
    monkeypatch.setattr(lm_eval.tasks.manager, "TASKS_ENTRY_POINT_GROUP", "lm_eval.tasks", raising=False)
    assert door.lm_eval_reads_task_entry_points() and not door.discovery_enabled()


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
    code = ("import lm_eval.evaluator, lm_eval.config.evaluate_config as c\n"
            "print(hasattr(lm_eval.evaluator.simple_evaluate, '_medpair_adapted'), "
            "hasattr(c.EvaluatorConfig.from_cli, '_medpair_adapted'))\n")
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
