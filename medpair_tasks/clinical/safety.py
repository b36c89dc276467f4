"""The clinical-data guard: credentialed notes stay on this machine unless the user allows otherwise.

One check, run inside the process wherever lm-eval builds a model for medpair's credentialed
tasks (PhysioNet, n2c2/DBMI; see :data:`~medpair_tasks.clinical.sources.CREDENTIALED`):
``medpair eval``, plain ``lm_eval``, ``lm_eval.simple_evaluate`` / ``evaluate``, and the jobs of
``medpair run`` / ``medpair plan``. :mod:`medpair_tasks.lm_eval_internals` hooks it into lm-eval, so
it reads lm-eval's own parsed configuration (its parser's abbreviations, merged ``model_args``,
``--config`` files), not a second parser. When the run includes a credentialed task it refuses,
before the model is built and before any request is sent:

- lm-eval's API model types (OpenAI, Azure OpenAI, Anthropic, TextSynth, watsonx) always;
- endpoint model types (``local-completions``, ``local-chat-completions``, ``gguf``/``ggml``,
  ``sglang-generate``, ``litellm``; any of lm-eval's HTTP API models handed over as an object)
  unless their final ``base_url`` (or ``api_base``) is this machine: ``localhost`` or a loopback
  address (127.0.0.0/8, ::1);
- model types medpair does not know (a plug-in's), since it cannot tell where they send prompts;
- ``trust_remote_code=True``: the model repository's own code would run with the notes in memory;
- every command-line option that is not on :data:`SAFE_OPTIONS` (an allow-list): the log uploads
  ``--wandb_args``, ``--trackio_args``, ``--hf_hub_log_args`` pushing to the Hub, and any option a
  later lm-eval adds; from the Python API, an ``EvaluationTracker`` that pushes to the Hub.

It is overridden by ``medpair eval --allow-remote``, the environment variable
``MEDPAIR_ALLOW_REMOTE=1``, or the metadata key ``medpair_allow_remote`` (``lm_eval --metadata
'{"medpair_allow_remote": true}'``, ``simple_evaluate(..., metadata={"medpair_allow_remote": True})``).
"""

from __future__ import annotations

import fnmatch
import ipaddress
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from typing import Any, ContextManager
from urllib.parse import urlsplit

ALLOW_FLAGS = ("--allow-remote", "--allow_remote")
ALLOW_ENV = "MEDPAIR_ALLOW_REMOTE"
ALLOW_METADATA_KEY = "medpair_allow_remote"
REMOTE_SERVICES = frozenset({
    "openai-completions", "openai-chat-completions", "azure-openai-chat-completions",
    "anthropic-completions", "anthropic-chat", "anthropic-chat-completions", "textsynth", "watsonx_llm",
})
ENDPOINTS = frozenset({
    "local-completions", "local-chat-completions", "gguf", "ggml", "sglang-generate",
    "litellm", "litellm-chat", "litellm-chat-completions",
})
IN_PROCESS = frozenset({
    "hf", "hf-auto", "huggingface", "hf-multimodal", "hf-mistral3", "hf-audiolm-qwen", "vllm", "vllm-vlm",
    "sglang", "mamba_ssm", "habana", "ipex", "neuronx", "openvino", "onnxruntime", "onnxruntime-genai",
    "trtllm", "megatron_lm", "nemo_lm", "steered", "dummy", "winml",
})
SAFE_OPTIONS = frozenset({
    "config", "model", "model_args", "tasks", "num_fewshot", "batch_size", "max_batch_size", "device", "limit",
    "samples", "use_cache", "cache_requests", "check_integrity", "write_out", "log_samples", "output_path",
    "predict_only", "system_instruction", "apply_chat_template", "fewshot_as_multiturn", "show_config",
    "include_path", "gen_kwargs", "verbosity", "seed", "trust_remote_code", "confirm_run_unsafe_code", "metadata",
})
"""lm-eval options that keep everything on this machine (``trust_remote_code`` is judged with the model)."""
HUB_SAFE_KEYS = frozenset({"push_results_to_hub", "push_samples_to_hub"})
"""``--hf_hub_log_args`` keys that may appear, each only with a false value."""

TERMS = (
    "The prompts of these tasks contain the clinical notes. PhysioNet's Credentialed Health Data Use "
    "Agreement forbids sharing the data with any third party, and PhysioNet's guidance on the responsible "
    "use of MIMIC data with online services like GPT (2023) says this includes sending it to API-based "
    "models or online chat services. The n2c2 data use agreement (Harvard DBMI) likewise forbids passing "
    "the data on."
)
HOW_TO_OVERRIDE = (
    "If your agreement allows this destination (a model served on your own hardware under another host "
    "name, or a service your data use terms explicitly cover, e.g. one that neither retains nor reviews "
    "the data), run again with  medpair eval --allow-remote, or set MEDPAIR_ALLOW_REMOTE=1, or pass "
    f"--metadata '{{\"{ALLOW_METADATA_KEY}\": true}}' to lm_eval (metadata={{\"{ALLOW_METADATA_KEY}\": True}} "
    "in simple_evaluate)."
)

_ALLOWED: ContextVar[bool] = ContextVar("medpair_remote_allowed", default=False)


class RemoteUseRefused(SystemExit):
    """The run would send credentialed notes off this machine; the message says why and how to allow it."""


@contextmanager
def remote_use_allowed() -> Iterator[None]:
    """Within the block the guard lets every run through (``medpair eval --allow-remote``)."""
    token = _ALLOWED.set(True)
    try:
        yield
    finally:
        _ALLOWED.reset(token)


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes")


def is_allowed(metadata: Any = None) -> bool:
    """Whether the user allowed remote use: ``--allow-remote``, ``MEDPAIR_ALLOW_REMOTE`` or the metadata key."""
    if _ALLOWED.get() or _truthy(os.environ.get(ALLOW_ENV, "")):
        return True
    return isinstance(metadata, Mapping) and _truthy(metadata.get(ALLOW_METADATA_KEY, False))


def credentialed_tasks(names: list[str]) -> dict[str, list[str]]:
    """The requested medpair task or group names (globs expanded) → their credentialed datasets."""
    from medpair_tasks.clinical.sources import CREDENTIALED
    from medpair_tasks.clinical.taskfiles import clinical_catalogue

    catalogue = clinical_catalogue()
    hits: dict[str, list[str]] = {}
    for name in names:
        matches = fnmatch.filter(catalogue, name) if any(c in name for c in "*?[") else [name]
        for match in matches:
            datasets = sorted(d for d in catalogue.get(match, ()) if d in CREDENTIALED)
            if datasets:
                hits[match] = datasets
    return hits


def _is_local(url: str | None) -> bool:
    if not url:
        return False
    host = urlsplit(url if "//" in url else f"//{url}").hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False




def model_destinations(model: str, model_args: Mapping[str, Any]) -> list[str]:
    """Why a model named as lm-eval names it, with these ``model_args``, would take the notes off this machine."""
    reasons = []
    if model in REMOTE_SERVICES:
        reasons.append(f"model type {model!r} sends every prompt to a remote API service")
    elif model in ENDPOINTS:
        url = model_args.get("base_url") or model_args.get("api_base")
        if not _is_local(url):
            where = f"to {url}" if url else "to an endpoint (no base_url given)"
            reasons.append(f"model type {model!r} sends every prompt {where}, which is not this machine")
    elif model not in IN_PROCESS:
        reasons.append(f"model type {model!r} is unknown to medpair, which cannot tell where it sends prompts")
    if _truthy(model_args.get("trust_remote_code", False)):
        reasons.append("trust_remote_code=True runs the model repository's own code with the notes in memory")
    return reasons


def lm_destinations(lm: Any) -> list[str]:
    """Why an lm-eval model object would take the notes off this machine (its class and final base_url)."""
    from medpair_tasks.lm_eval_internals import endpoint_url, registered_model_name, unwrap_model

    lm = unwrap_model(lm)
    is_endpoint, url = endpoint_url(lm)
    if is_endpoint:
        if _is_local(url):
            return []
        return [f"model {type(lm).__name__} sends every prompt to {url or 'an endpoint'}, which is not this machine"]
    name = registered_model_name(lm)
    if name is None:
        return [f"model class {type(lm).__name__} is unknown to medpair, which cannot tell where it sends prompts"]
    return model_destinations(name, {})


def option_destinations(config: Any, defaults: Mapping[str, Any]) -> list[str]:
    """lm-eval command-line settings outside :data:`SAFE_OPTIONS` (log uploads, options unknown to medpair)."""
    reasons = []
    for name, default in defaults.items():
        value = getattr(config, name, default)
        if name in SAFE_OPTIONS or value == default or value in (None, {}, [], ""):
            continue
        if name == "hf_hub_log_args" and all(k in HUB_SAFE_KEYS and not _truthy(v) for k, v in value.items()):
            continue
        reasons.append(f"--{name} is not an option medpair knows to keep the data here (log uploads: "
                       "--wandb_args, --trackio_args, --hf_hub_log_args push_*_to_hub); samples files hold the notes")
    return reasons


def tracker_destinations(tracker: Any) -> list[str]:
    """Why an lm-eval ``EvaluationTracker`` would upload the logs (it pushes to the Hugging Face Hub)."""
    if tracker is not None and (getattr(tracker, "push_results_to_hub", False) or getattr(tracker, "push_samples_to_hub", False)):
        return ["the evaluation tracker would push the logs to the Hugging Face Hub; samples files hold the notes"]
    return []


def refuse(hits: Mapping[str, list[str]], reasons: list[str]) -> None:
    """Raise :class:`RemoteUseRefused` naming the credentialed data and each destination."""
    from medpair_tasks.clinical.sources import CLINICAL_SOURCES

    datasets = sorted({d for found in hits.values() for d in found})
    examples = ", ".join(sorted(hits)[:3]) + (", …" if len(hits) > 3 else "")
    message = "\n".join([
        "medpair: refusing to send credentialed clinical data off this machine.",
        f"  credentialed data in this run ({len(hits)} tasks: {examples}):",
        *(f"    {d}: {CLINICAL_SOURCES[d].title}; needs {CLINICAL_SOURCES[d].access.split(':')[0]}" for d in datasets),
        "  destination:",
        *(f"    {reason}" for reason in reasons),
        "",
        TERMS,
        HOW_TO_OVERRIDE,
    ])
    raise RemoteUseRefused(message)


def _listed(tasks: Any) -> list[Any]:
    if tasks is None:
        return []
    return list(tasks) if isinstance(tasks, (list, tuple)) else [tasks]


def check_cli_config(config: Any, defaults: Mapping[str, Any]) -> None:
    """The guard on lm-eval's parsed command line (an ``EvaluatorConfig`` built by ``from_cli``)."""
    from medpair_tasks.lm_eval_internals import names_of, parse_model_args

    hits = credentialed_tasks(names_of(_listed(config.tasks)))
    if not hits or is_allowed(config.metadata):
        return
    reasons = model_destinations(str(config.model), parse_model_args(config.model_args))
    reasons += option_destinations(config, defaults)
    if reasons:
        refuse(hits, reasons)


def check_simple_evaluate_call(arguments: Mapping[str, Any]) -> ContextManager[None]:
    """The guard on ``simple_evaluate``'s arguments, before it builds the model.

    Returns the context the call runs in: allowed remote use (for the inner ``evaluate``) when the
    metadata key allows it.
    """
    from medpair_tasks.lm_eval_internals import names_of, parse_model_args

    hits = credentialed_tasks(names_of(_listed(arguments.get("tasks"))))
    if is_allowed(arguments.get("metadata")):
        return remote_use_allowed()
    if hits:
        model = arguments.get("model")
        if isinstance(model, str):
            reasons = model_destinations(model, parse_model_args(arguments.get("model_args")))
        else:
            reasons = lm_destinations(model)
        reasons += tracker_destinations(arguments.get("evaluation_tracker"))
        if reasons:
            refuse(hits, reasons)
    return nullcontext()


def check_evaluate_call(arguments: Mapping[str, Any]) -> ContextManager[None]:
    """The guard on ``evaluate``'s arguments (a built model and loaded tasks), before any request."""
    from medpair_tasks.lm_eval_internals import loaded_tasks

    if is_allowed():
        return nullcontext()
    hits: dict[str, list[str]] = {}
    for name, dataset in loaded_tasks(arguments.get("task_dict")):
        found = credentialed_tasks([name]).get(name, []) + (credentialed_datasets([dataset]) if dataset else [])
        if found:
            hits[name] = sorted(set(found))
    if hits:
        reasons = lm_destinations(arguments.get("lm"))
        if reasons:
            refuse(hits, reasons)
    return nullcontext()


def credentialed_datasets(datasets: list[str]) -> list[str]:
    """The credentialed ones among dataset names."""
    from medpair_tasks.clinical.sources import CREDENTIALED

    return [d for d in datasets if d in CREDENTIALED]
