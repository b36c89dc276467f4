"""Running shards through lm-eval's Python API, one loaded model per stage."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

from medpair_tasks.atomic import publish_dir, scratch_dir
from medpair_tasks.study.identity import write_identity
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

    # where and how fast the model runs, not what it answers: not part of a study's identity
    EXECUTION_FIELDS: ClassVar[frozenset[str]] = frozenset({"batch_size", "max_batch_size", "device"})

    def result_settings(self) -> dict[str, Any]:
        """The options that can change a shard's results (all but :attr:`EXECUTION_FIELDS`)."""
        return {key: value for key, value in asdict(self).items() if key not in self.EXECUTION_FIELDS}


def resolve_device(requested: str | None) -> str:
    """The device of a run: ``requested`` if this machine has it; unset, what lm-eval's hf model falls back to.

    lm-eval's ``hf`` model uses the device it is given (its own default is ``cuda``, which fails on a
    machine without CUDA) and, given none it knows, CUDA when torch sees a GPU and the CPU otherwise;
    medpair names that choice explicitly. Raises ValueError for a device this machine lacks.
    """
    import torch

    if requested is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    kind = requested.split(":", 1)[0]
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {requested}: torch sees no CUDA device here (use --device cpu, or leave --device "
                         "out to use the GPU when there is one and the CPU otherwise)")
    if kind == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"--device {requested}: torch has no MPS (Apple GPU) backend here")
    return requested


def load_model(spec: ModelSpec, options: EvalOptions) -> Any:
    """Instantiate the lm-eval model once (for all shards of a stage); it remembers its latest encodings
    (:func:`medpair_tasks.lm_eval_internals.remember_encodings`: the same token ids, fewer tokenizer calls)."""
    from lm_eval.api.registry import get_model

    from medpair_tasks.lm_eval_internals import remember_encodings

    extra = {"batch_size": options.batch_size, "max_batch_size": options.max_batch_size, "device": options.device}
    language_model = get_model(spec.model_type).create_from_arg_string(
        spec.model_args, {k: v for k, v in extra.items() if v is not None})
    remember_encodings(language_model)
    return language_model


def run_shard(
    language_model: Any,
    spec: ModelSpec,
    shard: Shard,
    out_dir: Path,
    options: EvalOptions,
    manager: Any,
    identity: dict[str, Any],
    samples: dict[str, list[int]] | None = None,
) -> Path:
    """Evaluate ``shard`` and publish its lm-eval output folder as ``out_dir/<shard.id>`` atomically.

    ``manager`` is a medpair task manager whose metadata sets the shard's role. ``identity``
    (the model and data the shard belongs to, see :mod:`medpair_tasks.study.identity`) is
    written into the folder before it is published. The folder appears only when every file
    of the shard is written, so a killed run leaves either a finished shard or nothing (a
    ``.tmp-*`` folder that the next run deletes).
    """
    from lm_eval import simple_evaluate
    from lm_eval.loggers import EvaluationTracker

    from medpair_tasks.lm_eval_internals import json_default

    final = out_dir / shard.id
    if final.exists():
        return final
    tmp = scratch_dir(out_dir, shard.id)
    tracker = EvaluationTracker(output_path=str(tmp))
    results = simple_evaluate(
        model=language_model,
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
                                               default=json_default, indent=1))
    write_identity(tmp, identity)
    publish_dir(tmp, final)
    log.info("shard %s done", shard.id)
    return final
