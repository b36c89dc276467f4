"""Running shards through lm-eval's Python API, one loaded model per stage."""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medpair_tasks.atomic import publish_dir, scratch_dir
from medpair_tasks.study.plan import Shard
from medpair_tasks.study.spec import ModelSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvalOptions:
    """lm-eval options shared by every shard of a study."""

    batch_size: str = "1"
    max_batch_size: int | None = None
    device: str | None = None
    apply_chat_template: bool = False
    fewshot_as_multiturn: bool = False
    system_instruction: str | None = None
    gen_kwargs: str | None = None
    seed: int = 0


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


def load_model(spec: ModelSpec, options: EvalOptions) -> Any:
    """Instantiate the lm-eval model once (for all shards of a stage)."""
    from lm_eval.api.registry import get_model

    extra = {"batch_size": options.batch_size, "max_batch_size": options.max_batch_size, "device": options.device}
    return get_model(spec.model_type).create_from_arg_string(spec.model_args, {k: v for k, v in extra.items() if v is not None})


def run_shard(
    lm: Any,
    spec: ModelSpec,
    shard: Shard,
    out_dir: Path,
    options: EvalOptions,
    manager: Any,
    samples: dict[str, list[int]] | None = None,
) -> Path:
    """Evaluate ``shard`` and publish its lm-eval output folder as ``out_dir/<shard.id>`` atomically.

    ``manager`` is a medpair task manager whose metadata sets the shard's role. The folder
    appears only when every file of the shard is written, so a killed run leaves either a
    finished shard or nothing (a ``.tmp-*`` folder that the next run deletes).
    """
    from lm_eval import simple_evaluate
    from lm_eval.loggers import EvaluationTracker
    from lm_eval.utils import handle_non_serializable

    final = out_dir / shard.id
    if final.exists():
        return final
    tmp = scratch_dir(out_dir, shard.id)
    tracker = EvaluationTracker(output_path=str(tmp))
    results = simple_evaluate(
        model=lm,
        model_args=spec.model_args,
        tasks=list(shard.tasks),
        task_manager=manager,
        log_samples=True,
        evaluation_tracker=tracker,
        samples=samples,
        apply_chat_template=options.apply_chat_template,
        fewshot_as_multiturn=options.fewshot_as_multiturn,
        system_instruction=options.system_instruction,
        gen_kwargs=options.gen_kwargs,
        bootstrap_iters=0,
        random_seed=options.seed,
        numpy_random_seed=options.seed,
        torch_random_seed=options.seed,
        fewshot_random_seed=options.seed,
        verbosity="WARNING",
    )
    logged = results.pop("samples")
    tracker.save_results_aggregated(results=results, samples=logged)
    for task_name in results["configs"]:
        tracker.save_results_samples(task_name=task_name, samples=logged[task_name])
    (tmp / "shard.json").write_text(json.dumps({"id": shard.id, "role": shard.role, "tasks": list(shard.tasks)},
                                               default=handle_non_serializable, indent=1))
    publish_dir(tmp, final)
    log.info("shard %s done", shard.id)
    return final
