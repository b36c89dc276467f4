"""The clinical-data guard: no credentialed notes leave this machine, on any entry point, unless allowed.

A loopback HTTP server (127.0.0.1 only) stands in for the remote endpoint: the runs reach it as an
HTTP proxy for ``http://remote.example/…``, or directly as a "local" endpoint in the log-upload
cases. It must receive nothing when a run is refused and exactly one request when it is allowed;
its received bytes are scanned for the fixtures' note text.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest

from clinical_testlib import note_text_in_bytes
from medpair_testlib import FIXTURE_DATA, MEDPAIR, subprocess_env
from medpair_tasks.clinical.safety import (
    RemoteUseRefused,
    credentialed_tasks,
    model_destinations,
)
from medpair_tasks.lm_eval_internals import evaluator_config_class, install, parse_lm_eval_args

REMOTE = "http://remote.example/v1/completions"
API_ARGS = "model=m,tokenizer_backend=None,tokenized_requests=False"
TASK = "medpair_mednli_gen"
REFUSAL = "refusing to send credentialed clinical data"
LM_EVAL = str(Path(MEDPAIR).with_name("lm_eval"))


class _Recorder(BaseHTTPRequestHandler):
    """Answers every POST like an OpenAI-style completions endpoint and keeps what it received."""

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.received.append(self.requestline.encode() + b"\n" + bytes(self.headers) + body)  # type: ignore[attr-defined]
        answer = json.dumps({"id": "x", "object": "text_completion",
                             "choices": [{"index": 0, "text": " A", "finish_reason": "stop", "logprobs": None}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    do_CONNECT = do_GET = do_POST  # noqa: N815 (any traffic counts)

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture()
def stand_in() -> Iterator[ThreadingHTTPServer]:
    """The loopback server standing in for the remote endpoint (``.received``: the raw requests)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def _proxy_env(server: ThreadingHTTPServer) -> dict[str, str]:
    proxy = f"http://127.0.0.1:{server.server_address[1]}"
    return {"HTTP_PROXY": proxy, "http_proxy": proxy, "HTTPS_PROXY": proxy, "https_proxy": proxy,
            "NO_PROXY": "", "no_proxy": "", "OPENAI_API_KEY": "not-a-key"}


def _local(server: ThreadingHTTPServer) -> str:
    return f"base_url=http://127.0.0.1:{server.server_address[1]}/v1/completions"


def _run(command: list[str], server: ThreadingHTTPServer, tmp_path: Path, **extra: str) -> subprocess.CompletedProcess:
    env = {**subprocess_env(FIXTURE_DATA), **_proxy_env(server), **extra}
    env.pop("MEDPAIR_ALLOW_REMOTE", None)
    env.update(extra)
    return subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)


def _assert_refused(done: subprocess.CompletedProcess, server: ThreadingHTTPServer, *why: str) -> None:
    assert done.returncode != 0, done.stdout[-2000:]
    assert REFUSAL in done.stderr and "Traceback" not in done.stderr, done.stderr[-3000:]
    for reason in why:
        assert reason in done.stderr, done.stderr[-3000:]
    assert server.received == []  # type: ignore[attr-defined]


def _assert_one_request_with_notes(done: subprocess.CompletedProcess | None, server: ThreadingHTTPServer) -> None:
    if done is not None:
        assert done.returncode == 0, done.stderr[-4000:]
    received = server.received  # type: ignore[attr-defined]
    assert len(received) == 1
    assert b"remote.example" in received[0] and note_text_in_bytes(received[0])


# --------------------------------------------------------------------------- lm-eval's parsed command line
def _from_cli(argv: list[str]):
    """Build lm-eval's configuration from ``argv`` with lm-eval's own parser and ``EvaluatorConfig.from_cli``."""
    install()
    _, args = parse_lm_eval_args(argv)
    return evaluator_config_class().from_cli(args)


def _refused_cli(argv: list[str]) -> str:
    with pytest.raises(RemoteUseRefused) as exc:
        _from_cli(argv)
    return str(exc.value.code)


@pytest.mark.parametrize("argv,why", [
    (["--model", "openai-chat-completions", "--task", "medpair_mednli"], "remote API service"),
    (["--model", "openai-chat-completions", "--tas", "medpair_mednli"], "remote API service"),
    (["--model", "local-completions", "--model_args", "base_url=http://127.0.0.1:8000/v1",
      "--model_a", f"base_url={REMOTE}", "--tasks", "medpair_mednli"], REMOTE),
    (["--model", "hf", "--model_args", "pretrained=/m", "--hf_hub", "push_samples_to_hub=True",
      "--tasks", "medpair_mednli"], "--hf_hub_log_args"),
    (["--model", "hf", "--model_args", "pretrained=/m", "--wandb_a", "project=x", "--tasks", "medpair_mednli"],
     "--wandb_args"),
    (["--model", "hf", "--model_args", "pretrained=/m", "--trackio_args", "project=x", "--tasks", "medpair_mednli"],
     "--trackio_args"),
    (["--model", "hf", "--model_args", "pretrained=/m", "--wandb_config_args", "a=b", "--tasks", "medpair_mednli"],
     "--wandb_config_args"),
    (["--model", "hf", "--model_args", "pretrained=/m,trust_remote_code=True", "--tasks", "medpair_n2c2_obesity"],
     "trust_remote_code"),
    (["--model", "vllm", "--model_args", "pretrained=/m", "--trust_remote_code", "--tasks", "medpair_mednli"],
     "trust_remote_code"),
    (["--model", "my-plugin-model", "--tasks", "medpair_probsum"], "unknown to medpair"),
    (["run", "-M", "local-completions", "-a", '{"base_url": "https://x.org/v1"}', "-t", "medpair_casi",
      "medpair_mednli_gen_f03_k3_s1"], "https://x.org/v1"),
])
def test_lm_eval_parsed_command_line_is_checked(argv, why):
    message = _refused_cli(argv)
    assert REFUSAL in message and why in message and "--allow-remote" in message
    assert "Credentialed Health Data Use Agreement" in message


def test_config_file_is_read_by_lm_eval(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("model: openai-chat-completions\nmodel_args: model=gpt\ntasks: [medpair_medisumcode]\n")
    assert "medisumcode" in _refused_cli(["--config", str(config)])


@pytest.mark.parametrize("argv", [
    ["--model", "hf", "--model_args", "pretrained=/m", "--tasks", "medpair_mednli,medpair_ehrnoteqa",
     "--hf_hub_log_args", "push_samples_to_hub=False", "--output_path", "o", "--log_samples", "--limit", "3"],
    ["--model", "local-chat-completions", "--model_args", "model=m,base_url=http://[::1]:8000/v1", "--tasks",
     "medpair_probsum"],
    ["--model", "openai-chat-completions", "--tasks", "medpair_casi,medpair_longhealth,medpair_meqsum,medpair_medqa"],
    ["--model", "openai-chat-completions", "--tasks", "medpair_mednli", "--metadata",
     '{"medpair_allow_remote": true}'],
])
def test_safe_runs_and_public_data_pass(argv):
    config = _from_cli(argv)
    assert config.tasks


def test_environment_variable_allows(monkeypatch):
    monkeypatch.setenv("MEDPAIR_ALLOW_REMOTE", "1")
    assert _from_cli(["--model", "openai-chat-completions", "--tasks", "medpair_mednli"]).model == "openai-chat-completions"


@pytest.mark.parametrize("url,refused", [
    ("http://localhost:8000/v1/completions", False),
    ("http://127.0.0.1:8000/v1/completions", False),
    ("http://127.0.0.2:9/v1", False),
    ("http://[::1]:8000/v1/completions", False),
    ("https://api.example.org/v1/completions", True),
    ("http://10.0.0.5:8000/v1/completions", True),
    ("http://localhost.example.org/v1", True),
    (None, True),
])
def test_endpoints_must_be_this_machine(url, refused):
    reasons = model_destinations("local-chat-completions", {"model": "m", **({"base_url": url} if url else {})})
    assert bool(reasons) == refused
    if refused:
        assert "which is not this machine" in reasons[0]


def test_globs_and_groups_expand():
    hits = credentialed_tasks(["medpair_n2c2_obesity", "medpair_longhealth", "medpair_medisum*"])
    assert hits["medpair_n2c2_obesity"] == ["n2c2_obesity_asthma", "n2c2_obesity_cad", "n2c2_obesity_diabetes",
                                            "n2c2_obesity_obesity"]
    assert "medpair_longhealth" not in hits
    assert set(hits) == {"medpair_n2c2_obesity", "medpair_medisumqa", "medpair_medisumcode"}


# --------------------------------------------------------------------------- entry points, end to end
@pytest.mark.slow  # a medpair / lm_eval process end to end
def test_medpair_eval_refuses_every_bypass_without_traffic(stand_in, tmp_path):
    base = ["eval", "--model", "local-completions", "--limit", "1"]
    _assert_refused(_run([MEDPAIR, *base, "--model_args", f"{API_ARGS},{_local(stand_in)}", "--model_a",
                          f"base_url={REMOTE}", "--tas", TASK], stand_in, tmp_path), stand_in, REMOTE)
    _assert_refused(_run([MEDPAIR, *base, "--model_args", f"{API_ARGS},{_local(stand_in)}", "--hf_hub",
                          "push_samples_to_hub=True", "--tasks", TASK], stand_in, tmp_path), stand_in, "--hf_hub_log_args")
    _assert_refused(_run([MEDPAIR, *base, "--model_args", f"{API_ARGS},{_local(stand_in)}", "--wandb_a",
                          "project=x", "--tasks", TASK], stand_in, tmp_path), stand_in, "--wandb_args")
    _assert_refused(_run([MEDPAIR, "eval", "--model", "openai-chat-completions", "--model_args",
                          f"model=gpt,base_url={REMOTE}", "--task", TASK], stand_in, tmp_path), stand_in, "remote API service")


@pytest.mark.slow  # a medpair / lm_eval process end to end
def test_medpair_eval_allow_remote_sends_one_request(stand_in, tmp_path):
    done = _run([MEDPAIR, "eval", "--allow-remote", "--model", "local-completions", "--model_args",
                 f"{API_ARGS},base_url={REMOTE}", "--tasks", TASK, "--limit", "1"], stand_in, tmp_path)
    _assert_one_request_with_notes(done, stand_in)


@pytest.mark.slow  # a medpair / lm_eval process end to end
def test_plain_lm_eval_is_guarded(stand_in, tmp_path):
    _assert_refused(_run([LM_EVAL, "--model", "local-completions", "--model_args", f"{API_ARGS},base_url={REMOTE}",
                          "--tas", TASK, "--limit", "1"], stand_in, tmp_path), stand_in, REMOTE)
    _assert_refused(_run([LM_EVAL, "--model", "local-completions", "--model_args", f"{API_ARGS},{_local(stand_in)}",
                          "--trackio_args", "project=x", "--tasks", TASK, "--limit", "1"], stand_in, tmp_path), stand_in,
                    "--trackio_args")
    done = _run([LM_EVAL, "--model", "local-completions", "--model_args", f"{API_ARGS},base_url={REMOTE}",
                 "--tasks", TASK, "--limit", "1", "--metadata", '{"medpair_allow_remote": true}'], stand_in, tmp_path)
    _assert_one_request_with_notes(done, stand_in)


def _api_model(url: str):
    from lm_eval.api.registry import get_model

    return get_model("local-completions")(base_url=url, model="m", tokenizer_backend=None, tokenized_requests=False)


@pytest.mark.slow  # lm-eval end to end
def test_python_api_is_guarded(stand_in, monkeypatch):
    """simple_evaluate with a model name or an LM object (as ``medpair run`` passes it), and evaluate."""
    import lm_eval
    from lm_eval.evaluator import evaluate

    from medpair_tasks.registry import task_manager

    install()
    for key, value in {**_proxy_env(stand_in), "MEDPAIR_DATA_DIR": str(FIXTURE_DATA)}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("MEDPAIR_ALLOW_REMOTE", raising=False)
    manager = task_manager()
    calls = [
        dict(model="local-completions", model_args=f"{API_ARGS},base_url={REMOTE}"),
        dict(model=_api_model(REMOTE)),
        dict(model="hf", model_args={"pretrained": "/nowhere"},
             evaluation_tracker=SimpleNamespace(push_results_to_hub=False, push_samples_to_hub=True)),
    ]
    for call in calls:
        with pytest.raises(RemoteUseRefused, match=REFUSAL):
            lm_eval.simple_evaluate(tasks=[TASK], task_manager=manager, limit=1, **call)
    with pytest.raises(RemoteUseRefused, match=REFUSAL):
        evaluate(lm=_api_model(REMOTE), task_dict=manager.load([TASK]), limit=1)
    assert stand_in.received == []  # type: ignore[attr-defined]
    lm_eval.simple_evaluate(model="local-completions", model_args=f"{API_ARGS},base_url={REMOTE}", tasks=[TASK],
                            task_manager=manager, limit=1, metadata={"medpair_allow_remote": True})
    _assert_one_request_with_notes(None, stand_in)
