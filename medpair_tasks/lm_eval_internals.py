"""The one door to lm-eval's internals.

Every import of a private lm-eval module and every change medpair makes to lm-eval's behaviour
lives in this module (and in :mod:`medpair_tasks._startup`, the start-up hook that names the
modules :func:`adapt_module` adapts, so that a process need not import this module to watch for
them); the rest of medpair, its tests and its benchmarks use lm-eval's public API or the
functions below.

**lm-eval's public API**, as medpair reads it (what lm-eval documents for users and extenders):

- ``lm_eval.simple_evaluate`` / ``lm_eval.evaluate`` and the module ``lm_eval.evaluator`` that
  defines them; the ``lm_eval`` command (``lm_eval.__main__.cli_evaluate``);
- ``lm_eval.tasks.TaskManager`` (constructor arguments, ``task_index``, ``all_tasks``,
  ``all_subtasks``, ``all_groups``, ``all_tags``, ``load``, ``load_task_or_group``) and
  ``lm_eval.tasks.get_task_dict``;
- ``lm_eval.api.*``: the task, sampler, model, instance, metric, filter and registry classes and
  functions that task and model authors subclass or call (``ConfigurableTask``,
  ``FirstNSampler``, ``LM``, ``CachingLM``, ``get_model``, ``register_model`` …);
- ``lm_eval.models.*``: the model classes (``huggingface.HFLM``, ``hf_vlms.HFMultimodalLM``,
  ``api_models.TemplateAPI``) and ``MODEL_MAPPING``;
- ``lm_eval.loggers`` (``EvaluationTracker``).

Everything else is internal: ``lm_eval.utils``, ``lm_eval.config``, ``lm_eval._cli``,
``lm_eval.tasks.manager`` / ``_index`` / ``_yaml_loader``, ``lm_eval.loggers.evaluation_tracker``,
and undocumented attributes or call orders of public classes. ``tests/test_lm_eval_internals.py``
checks that nothing outside the door names an internal, and has one test per dependency below
(marked ``lmeval``), so that an lm-eval release that changes one fails there, loudly, with the
dependency's number, name and the installed lm-eval version, instead of somewhere downstream.
CI runs those tests against the oldest and newest lm-eval that ``setup.cfg`` allows and against
lm-eval's main branch where it can be installed (``.ci/run``). The dependencies (lm-eval 0.4.13):

1. ``lm_eval.tasks.manager.TaskManager``: its constructor's arguments and the attributes it keeps
   its index in (``_index``, ``_all_tasks``, ``_all_subtasks``, ``_all_groups``, ``_all_tags``);
   medpair wraps ``__init__`` to add its own tasks (:func:`adapt_task_manager`).
2. ``lm_eval.tasks._index`` (``Kind``, ``TaskIndex.build`` / ``process_cfg``) and
   ``lm_eval.tasks._yaml_loader.load_yaml``: indexing chosen medpair YAML files, reading a task
   YAML as lm-eval does (:func:`read_task_yaml`, :func:`lm_eval_index`).
3. ``lm_eval.config.evaluate_config.EvaluatorConfig.from_cli``: wrapped, so that the clinical-data
   guard reads lm-eval's own parsed command line (abbreviations, merged ``model_args``, ``--config``).
4. ``lm_eval.evaluator.simple_evaluate`` and ``evaluate``: wrapped by the same guard (Python API).
5. ``lm_eval._cli.harness.HarnessCLI`` with its private ``_parser`` / ``_subparsers``:
   ``medpair eval`` parses its arguments with lm-eval's parser.
6. ``lm_eval.utils.apply_template`` / ``env``: replaced by a cached compilation (same text);
   ``env`` also renders training prompts exactly as tasks render them (:func:`prompt_environment`).
7. ``lm_eval.models.MODEL_MAPPING`` and ``lm_eval.models.api_models.TemplateAPI``: what kind of
   model an ``LM`` object handed to the Python API is.
8. The ``lm_eval.tasks`` entry-point group of lm-eval's plugin proposal (PR #4015): while the
   installed lm-eval does not read it, :func:`adapt_task_manager` adds medpair's tasks itself.
9. ``lm_eval.evaluator.add_env_info``: replaced, during a study, by a version that records the
   software environment once (:func:`environment_recorded_once`).
10. ``fewshot_config: {split: …}`` names the few-shot split (lm-eval 0.4.12 ignored it unless a
    top-level ``fewshot_split`` was set too, and drew demonstrations from the scored split),
    a ``first_n`` sampler keeps that split in ``.df``, and ``ConfigurableTask.fewshot_context``
    takes its demonstrations from ``self.sampler.sample(n=…)``: medpair chooses each item's
    demonstrations itself and hands them to lm-eval's prompt builder
    (:func:`fewshot_pool`, :func:`showing_demonstrations`).
11. ``evaluate`` calls each task's ``dump_config`` after it has built the task's requests: the
    clinical tasks report what truncation did in ``dump_config``
    (:meth:`medpair_tasks.clinical.task.ClinicalTask.dump_config`).
12. lm-eval merges ``--model_args`` into every task's metadata when it builds the task manager:
    the command line always does, ``simple_evaluate`` only when no ``task_manager`` is passed. The
    clinical truncation budget reads the model there
    (:func:`medpair_tasks.clinical.truncate.resolve_budget`).
13. ``lm_eval.utils`` helpers whose output medpair must reproduce: ``handle_non_serializable``
    (how documents are written, hence ``doc_hash``: :func:`json_default`),
    ``convert_pil_to_hash`` (how images are logged: :func:`image_hash`),
    ``simple_parse_args_string`` (:func:`parse_model_args`), ``setup_logging`` (:func:`run_lm_eval`).
14. ``lm_eval.loggers.evaluation_tracker.datetime``: the clock of the tracker's file names,
    fixed by the tests' synthetic lm-eval output (:func:`tracker_clock`).
15. ``lm_eval.filters.build_filter_ensemble`` with the ``custom`` and ``take_first`` filters, and a
    task's ``_filters`` list, which ``apply_filters`` runs: a protocol's own answer extraction
    replaces the YAML's filters (:func:`replace_filters`; ``clue2024``).
16. ``TemplateLM.loglikelihood`` encodes every request's context and context + continuation
    through the model object's own ``tok_encode`` (``_encode_pair``), the context once per answer
    option: a study remembers a model's latest encodings (:func:`remember_encodings`).
"""

from __future__ import annotations

import copy
import functools
import inspect
import logging
import os
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any, ContextManager

log = logging.getLogger(__name__)

PLUGIN_ENV = "MEDPAIR_LM_EVAL_PLUGIN"
TASKS_ENTRY_POINT_GROUP = "lm_eval.tasks"
_OFF = ("0", "false", "no", "off")
_MARK = "_medpair_adapted"


@dataclass(frozen=True)
class IndexScope:
    """What the task managers built while ``medpair eval`` runs index.

    ``files``: the medpair YAML files the requested names need (None: all of medpair's);
    ``include_defaults``: whether lm-eval's ~14,700 built-in YAMLs are indexed too.
    """

    files: tuple[Path, ...] | None
    include_defaults: bool


_SCOPE: ContextVar[IndexScope | None] = ContextVar("medpair_index_scope", default=None)


@contextmanager
def index_scope(scope: IndexScope) -> Iterator[None]:
    """Within the block, lm-eval's task managers index only what ``scope`` says (restored afterwards)."""
    token = _SCOPE.set(scope)
    try:
        yield
    finally:
        _SCOPE.reset(token)


# --------------------------------------------------------------------------- discovery (1, 2, 8)
def lm_eval_reads_task_entry_points() -> bool:
    """True when the installed lm-eval discovers task plugins through the ``lm_eval.tasks`` entry points."""
    import lm_eval.tasks.manager as manager

    return any(
        value == TASKS_ENTRY_POINT_GROUP for name, value in vars(manager).items() if not name.startswith("__")
    )


def discovery_enabled() -> bool:
    """Whether plain lm-eval task managers should also index medpair's tasks (the bridge)."""
    if os.environ.get(PLUGIN_ENV, "1").strip().lower() in _OFF:
        return False
    return not lm_eval_reads_task_entry_points()


def _medpair_root() -> Path:
    from medpair_tasks.registry import task_path

    return task_path().resolve()


def _covers_medpair(include_path: Any) -> bool:
    """Whether a user's include_path already reaches (part of) medpair's task folder."""
    if not include_path:
        return False
    root = _medpair_root()
    paths = include_path if isinstance(include_path, (list, tuple)) else [include_path]
    for path in paths:
        resolved = Path(path).expanduser().resolve()
        if resolved == root or root in resolved.parents or resolved in root.parents:
            return True
    return False


def _entries(files: tuple[Path, ...] | None) -> dict[str, Any]:
    """lm-eval index entries of the given medpair YAML files (all of them when None).

    A prompt candidate is one task named after its file whose kind (YAML or Python-class task)
    comes from the templates it includes, so only one candidate per distinct ``include:`` line is
    parsed and the others get an entry without parsing (lm-eval reads a task's file when it loads
    it); the other files (defaults and groups, ~70) are parsed as lm-eval's own index parses them.
    """
    from lm_eval.tasks._index import Entry, TaskIndex

    from medpair_tasks.registry import is_candidate_file, task_files

    index: dict[str, Any] = {}
    kinds: dict[str, Any] = {}
    for path in sorted(task_files().values() if files is None else files):
        if not is_candidate_file(path):
            TaskIndex.process_cfg(read_task_yaml(path), path, index)
            continue
        includes = next((line for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("include:")), "")
        if includes not in kinds:
            kinds[includes] = TaskIndex._kind_of(read_task_yaml(path))
        index[path.stem] = Entry(name=path.stem, kind=kinds[includes], yaml_path=path)
    return index


def add_entries(manager: Any, files: tuple[Path, ...] | None) -> None:
    """Add medpair's entries to a built ``TaskManager`` for names it does not have yet.

    lm-eval's built-in tasks and a user's ``--include_path`` therefore win on a name clash.
    """
    from lm_eval.tasks._index import Kind

    index = manager._index
    for name, entry in _entries(files).items():
        index.setdefault(name, entry)
    buckets: dict[Any, list[str]] = defaultdict(list)
    for name, entry in index.items():
        buckets[entry.kind].append(name)
    manager._all_tasks = sorted(index)
    manager._all_subtasks = sorted(buckets[Kind.TASK] + buckets[Kind.PY_TASK])
    manager._all_groups = sorted(buckets[Kind.GROUP])
    manager._all_tags = sorted(buckets[Kind.TAG])


def _files_to_add(scope: IndexScope | None, include_path: Any) -> tuple[bool, tuple[Path, ...] | None]:
    """(add anything?, which files) for one new task manager."""
    if scope is not None:
        return True, scope.files
    if _covers_medpair(include_path) or not discovery_enabled():
        return False, None
    return True, None


def adapt_task_manager(cls: type) -> None:
    """Wrap ``TaskManager.__init__`` (once) so that it also indexes medpair's tasks.

    Outside ``medpair eval`` this is the bridge of lm-eval's plugin proposal: every task manager
    indexes all of medpair's tasks unless its include_path already holds them, the environment
    variable ``MEDPAIR_LM_EVAL_PLUGIN=0`` is set, or lm-eval reads the entry points itself.
    Inside ``medpair eval`` (:func:`index_scope`) it indexes only the files the run needs, and
    lm-eval's built-in tasks only when a requested name is not medpair's.
    """
    original = cls.__init__
    if getattr(original, _MARK, False):
        return
    signature = inspect.signature(original)

    @functools.wraps(original)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        scope = _SCOPE.get()
        if scope is not None and not scope.include_defaults:
            bound.arguments["include_defaults"] = False
        original(*bound.args, **bound.kwargs)
        add, files = _files_to_add(scope, bound.arguments.get("include_path"))
        if add:
            add_entries(self, files)

    setattr(__init__, _MARK, True)
    cls.__init__ = __init__


def task_manager_class() -> type:
    """lm-eval's ``TaskManager`` class, adapted."""
    from lm_eval.tasks import TaskManager

    adapt_task_manager(TaskManager)
    return TaskManager


def is_group_entry(entry: Any) -> bool:
    """Whether an index entry of a task manager is a group."""
    from lm_eval.tasks._index import Kind

    return entry.kind == Kind.GROUP


def is_task_entry(entry: Any) -> bool:
    """Whether an index entry of a task manager is a task (YAML-configured or a Python class)."""
    from lm_eval.tasks._index import Kind

    return entry.kind in (Kind.TASK, Kind.PY_TASK)


def read_task_yaml(path: Path, resolve_functions: bool = False) -> dict[str, Any]:
    """A task YAML as lm-eval reads it: includes merged; ``!function`` left unresolved (as for its
    index) or resolved to the callables (as when it builds the task)."""
    from lm_eval.tasks._yaml_loader import load_yaml

    return load_yaml(path, resolve_func=resolve_functions, recursive=True)


def lm_eval_index(folders: Iterable[Path]) -> dict[str, Any]:
    """lm-eval's own index of the YAML files under ``folders`` (name → entry with ``kind``, ``yaml_path``)."""
    from lm_eval.tasks._index import TaskIndex

    return dict(TaskIndex.build(list(folders)))


def lm_eval_version() -> str:
    """The installed lm-eval's version (for messages about a changed internal)."""
    from importlib import metadata

    return metadata.version("lm_eval")


# --------------------------------------------------------------------------- demonstrations (10)
def fewshot_pool(task: Any) -> list[Any] | None:
    """The few-shot split of a task built with the deterministic ``first_n`` sampler (None otherwise)."""
    from lm_eval.api.samplers import FirstNSampler

    sampler = getattr(task, "sampler", None)
    return list(sampler.df) if isinstance(sampler, FirstNSampler) else None


@contextmanager
def showing_demonstrations(task: Any, docs: Iterable[Any]) -> Iterator[None]:
    """Inside the block, lm-eval's ``fewshot_context`` of ``task`` shows exactly ``docs``, in order.

    lm-eval hands its sampler the scored document only when the demonstrations come from the
    scored split, so a sampler alone cannot choose per item; medpair chooses, and lm-eval renders.
    """
    from lm_eval.api.samplers import FirstNSampler

    shared = getattr(task, "sampler", None)
    task.sampler = FirstNSampler(list(docs))
    try:
        yield
    finally:
        task.sampler = shared


# --------------------------------------------------------------------------- filters (15)
def replace_filters(task: Any, name: str, filter_fn: Callable[[Any, Any], Any]) -> None:
    """Make ``filter_fn`` (responses, documents → filtered responses) ``task``'s only filter, named
    ``name``, followed by lm-eval's ``take_first``."""
    from lm_eval.filters import build_filter_ensemble

    task._filters = [build_filter_ensemble(name, [["custom", {"filter_fn": filter_fn}], ["take_first", None]])]


# --------------------------------------------------------------------------- lm-eval's helpers (13, 14)
def json_default(value: Any) -> Any:
    """How lm-eval writes values JSON cannot (``default=`` of its ``json.dumps``; ``doc_hash`` uses it)."""
    from lm_eval.utils import handle_non_serializable

    return handle_non_serializable(value)


def image_hash(image: Any) -> str:
    """How lm-eval logs an image of a multimodal document."""
    from lm_eval.utils import convert_pil_to_hash

    return convert_pil_to_hash(image)


def prompt_environment() -> Any:
    """lm-eval's Jinja2 environment, in which task prompts are rendered (StrictUndefined, trailing newlines kept)."""
    import lm_eval.utils

    return lm_eval.utils.env


@contextmanager
def tracker_clock(clock: Any) -> Iterator[None]:
    """Inside the block, lm-eval's ``EvaluationTracker`` reads the time from ``clock`` (a ``datetime``
    stand-in) when it names its files: for reproducible synthetic output in tests."""
    import lm_eval.loggers.evaluation_tracker as tracker_module

    original = tracker_module.datetime
    tracker_module.datetime = clock
    try:
        yield
    finally:
        tracker_module.datetime = original


# --------------------------------------------------------------------------- prompt templates (6)
class _QuietCustomDatasetNotice(logging.Filter):
    """Drop lm-eval's per-task notice about ``custom_dataset`` kwargs: one line per candidate."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Custom kwargs can be passed to `--metadata`" not in record.getMessage()


def quiet_lm_eval_notices() -> None:
    """Install :class:`_QuietCustomDatasetNotice` on lm-eval's task logger (once)."""
    logger = logging.getLogger("lm_eval.api.task")
    if not any(isinstance(f, _QuietCustomDatasetNotice) for f in logger.filters):
        logger.addFilter(_QuietCustomDatasetNotice())


@cache
def _template_compiler() -> Callable[[str], Any]:
    """``env.from_string`` of lm-eval's environment, cached by template text."""
    return lru_cache(maxsize=1024)(prompt_environment().from_string)


def template_cache_info() -> Any:
    """Hits and misses of the cached template compilation (``functools`` cache info)."""
    return _template_compiler().cache_info()  # type: ignore[attr-defined]


@cache
def cache_prompt_templates() -> None:
    """Compile each Jinja2 prompt template once instead of once per rendering.

    lm-eval's ``utils.apply_template`` calls ``env.from_string`` for every document; with 121
    candidates × 500 items × 4 prompts that is most of the CPU time of building requests. The
    replacement renders with the same environment, so the text is identical.
    """
    import lm_eval.utils

    compiled = _template_compiler()

    def apply_template(template: str, doc: dict) -> str:
        return compiled(template).render(**doc)

    lm_eval.utils.apply_template = apply_template


# --------------------------------------------------------------------------- the guard (3, 4, 7)
def _wrap(owner: Any, name: str, check: Callable[[dict[str, Any]], ContextManager[None]]) -> None:
    """Replace ``owner.name`` (a function) by one that runs ``check`` on its arguments first, then runs
    the original inside the context ``check`` returns."""
    original = getattr(owner, name)
    if getattr(original, _MARK, False):
        return
    signature = inspect.signature(original)

    @functools.wraps(original)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        with check(bound.arguments):
            return original(*args, **kwargs)

    setattr(guarded, _MARK, True)
    setattr(owner, name, guarded)


def adapt_evaluator_config(cls: type) -> None:
    """Run the guard on every configuration lm-eval's command line builds (``EvaluatorConfig.from_cli``)."""
    original = cls.from_cli
    if getattr(original, _MARK, False):
        return

    def from_cli(klass: type, namespace: Any) -> Any:
        from medpair_tasks.clinical.safety import check_cli_config

        config = original.__func__(klass, namespace)
        check_cli_config(config, _field_defaults(klass))
        return config

    setattr(from_cli, _MARK, True)
    cls.from_cli = classmethod(from_cli)


def _field_defaults(cls: type) -> dict[str, Any]:
    """Each field of lm-eval's ``EvaluatorConfig`` → its default value."""
    from dataclasses import MISSING, fields

    defaults = {}
    for field in fields(cls):
        if field.default is not MISSING:
            defaults[field.name] = field.default
        elif field.default_factory is not MISSING:
            defaults[field.name] = field.default_factory()
    return defaults


def adapt_evaluator(module: ModuleType) -> None:
    """Run the guard before ``simple_evaluate`` builds a model and before ``evaluate`` sends requests."""
    _wrap(module, "simple_evaluate", _check_simple_evaluate)
    _wrap(module, "evaluate", _check_evaluate)


def _check_simple_evaluate(arguments: dict[str, Any]) -> ContextManager[None]:
    from medpair_tasks.clinical.safety import check_simple_evaluate_call

    return check_simple_evaluate_call(arguments)


def _check_evaluate(arguments: dict[str, Any]) -> ContextManager[None]:
    from medpair_tasks.clinical.safety import check_evaluate_call

    return check_evaluate_call(arguments)


def unwrap_model(lm: Any) -> Any:
    """The model inside lm-eval's request cache wrapper (``CachingLM``), or ``lm`` itself."""
    from lm_eval.api.model import CachingLM

    return lm.lm if isinstance(lm, CachingLM) else lm


def loaded_tasks(task_dict: Any) -> Iterator[tuple[str, str | None]]:
    """(name, metadata ``dataset``) of every task in ``evaluate``'s ``task_dict`` (flat or nested form)."""
    if not isinstance(task_dict, Mapping):
        return
    tasks = task_dict["tasks"] if isinstance(task_dict.get("tasks"), Mapping) else task_dict
    for key, value in tasks.items():
        if isinstance(value, Mapping):
            yield from loaded_tasks(value)
            continue
        config = getattr(value, "config", None)
        metadata = getattr(config, "metadata", None)
        dataset = metadata.get("dataset") if isinstance(metadata, Mapping) else None
        name = key if isinstance(key, str) else getattr(key, "group_name", None) or str(key)
        yield name, dataset if isinstance(dataset, str) else None


def parse_model_args(model_args: Any) -> dict[str, Any]:
    """lm-eval's ``model_args`` (string or dict) as the dict lm-eval itself makes of it."""
    from lm_eval.utils import simple_parse_args_string

    if model_args is None:
        return {}
    if isinstance(model_args, dict):
        return dict(model_args)
    return simple_parse_args_string(str(model_args))


def registered_model_name(lm: Any) -> str | None:
    """The lm-eval model name (``hf``, ``local-completions``, …) whose class ``lm`` is or derives from."""
    from lm_eval.models import MODEL_MAPPING

    by_target = {target.replace(" ", ""): name for name, target in sorted(MODEL_MAPPING.items(), reverse=True)}
    for klass in type(lm).__mro__:
        name = by_target.get(f"{klass.__module__}:{klass.__qualname__}")
        if name is not None:
            return name
    return None


def endpoint_url(lm: Any) -> tuple[bool, str | None]:
    """(whether ``lm`` is one of lm-eval's HTTP API models, the base URL its requests go to)."""
    from lm_eval.models.api_models import TemplateAPI

    if isinstance(lm, TemplateAPI):
        return True, getattr(lm, "base_url", None)
    return False, None


# --------------------------------------------------------------------------- lm-eval's parser (5)
def parse_lm_eval_args(argv: list[str]) -> Any:
    """lm-eval's parsed command line for ``argv`` (``lm_eval``'s arguments), with its parser and defaults."""
    from lm_eval._cli.harness import HarnessCLI

    cli = HarnessCLI()
    if argv and argv[0] not in cli._subparsers.choices and argv[0] not in ("-h", "--help"):
        argv = ["run", *argv]
    return cli, cli._parser.parse_args(argv)


def evaluator_config_class() -> type:
    """lm-eval's ``EvaluatorConfig``: the configuration its ``run`` command builds (``from_cli``)."""
    from lm_eval.config.evaluate_config import EvaluatorConfig

    return EvaluatorConfig


def config_file_tasks(path: str) -> Any:
    """The ``tasks`` of an lm-eval ``--config`` YAML file, read by lm-eval's reader."""
    return evaluator_config_class().load_yaml_config(path).get("tasks")


def run_lm_eval(cli: Any, args: Any) -> None:
    """Run lm-eval's command for parsed arguments, with lm-eval's logging set up as its CLI does."""
    from lm_eval.utils import setup_logging

    setup_logging()
    cli.execute(args)


# --------------------------------------------------------------------------- installing
_ADAPTERS: dict[str, Callable[[ModuleType], None]] = {
    "lm_eval.tasks.manager": lambda module: adapt_task_manager(module.TaskManager),
    "lm_eval.config.evaluate_config": lambda module: adapt_evaluator_config(module.EvaluatorConfig),
    "lm_eval.evaluator": adapt_evaluator,
}


def adapt_module(module: ModuleType) -> None:
    """Adapt one freshly imported lm-eval module (called by :mod:`medpair_tasks._startup`)."""
    adapter = _ADAPTERS.get(module.__name__)
    if adapter is not None:
        adapter(module)


def install() -> None:
    """Adapt lm-eval in this process now (idempotent): for ``medpair eval`` and for processes without the ``.pth``."""
    import importlib

    for name in _ADAPTERS:
        adapt_module(importlib.import_module(name))
    quiet_lm_eval_notices()
    cache_prompt_templates()


def names_of(items: Iterable[Any]) -> list[str]:
    """Task names in lm-eval's task arguments: strings (comma lists), config dicts, Task/Group objects."""
    names: list[str] = []
    for item in items:
        if isinstance(item, str):
            names += [n.strip() for n in item.split(",") if n.strip()]
        elif isinstance(item, dict):
            names += [str(item[k]) for k in ("task", "group") if isinstance(item.get(k), str)]
        else:
            name = getattr(item, "task_name", None) or getattr(item, "group_name", None)
            if isinstance(name, str):
                names.append(name)
    return names


@contextmanager
def environment_recorded_once() -> Iterator[None]:
    """Inside the block, lm-eval records the software environment once and reuses the record.

    Every ``simple_evaluate`` call adds the environment to its results with torch's
    ``collect_env`` (pip, conda and lscpu subprocesses: one to several seconds), and a study
    makes one call per shard; the environment does not change within a run. lm-eval's own
    function is put back when the block ends.
    """
    import lm_eval.evaluator as evaluator

    original = evaluator.add_env_info
    recorded: dict[str, Any] = {}

    def add_recorded(storage: dict[str, Any]) -> None:
        if not recorded:
            original(recorded)
        storage.update(copy.deepcopy(recorded))

    evaluator.add_env_info = add_recorded
    try:
        yield
    finally:
        evaluator.add_env_info = original


ENCODING_MEMORY = 64
"""How many of its latest encodings a study's model remembers: a question's context recurs once per
answer option, one request after the other, so a few suffice (and memory stays small)."""


def remember_encodings(language_model: Any, size: int = ENCODING_MEMORY) -> None:
    """Make ``language_model`` remember its ``size`` latest ``tok_encode`` results (the same token ids).

    lm-eval scores a multiple-choice question by encoding its context once per option (``_encode_pair``
    encodes the context and the context + continuation of every request); with the context's
    encoding remembered, a 4-option question costs 5 encodings instead of 8. A model without
    ``tok_encode`` (an API model) is left as it is; only this object changes, not its class.
    """
    encode = getattr(language_model, "tok_encode", None)
    if not callable(encode):
        return
    remembered: OrderedDict[tuple[Any, ...], Any] = OrderedDict()

    def tok_encode(string: Any, *args: Any, **kwargs: Any) -> Any:
        key = (string, args, tuple(sorted(kwargs.items())))
        try:
            known = key in remembered
        except TypeError:  # an unhashable argument (a batch of strings): encode it as lm-eval would
            return encode(string, *args, **kwargs)
        if known:
            remembered.move_to_end(key)
        else:
            remembered[key] = encode(string, *args, **kwargs)
            if len(remembered) > size:
                remembered.popitem(last=False)
        return copy.copy(remembered[key])  # the caller may change its list; the memory keeps its own

    language_model.tok_encode = tok_encode
