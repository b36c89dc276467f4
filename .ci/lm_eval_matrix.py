"""CI: the lm-eval-facing tests (``pytest -m lmeval``) against several lm-eval versions.

Run by ``.ci/run`` inside its virtual environment, after the full test suite. The versions:

- the oldest and the newest lm-eval release that ``setup.cfg`` allows (one run when they are the
  same release); a failure here fails CI;
- lm-eval's main branch, where it can be installed (no network to GitHub: skipped with a
  report); a failure here is reported and does not fail CI.

A version other than the environment's own is installed with ``pip install --no-deps --target``
into a temporary folder put first on ``PYTHONPATH``: lm-eval's dependencies and medpair come from
the environment, nothing in it changes, and the folder is deleted afterwards.
"""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
MAIN_BRANCH = "git+https://github.com/EleutherAI/lm-evaluation-harness"
MAIN_REPOSITORY = "https://github.com/EleutherAI/lm-evaluation-harness"
REACH_TIMEOUT_S = 20
INSTALL_TIMEOUT_S = 600
TEST_TIMEOUT_S = 1200


@dataclass(frozen=True)
class Outcome:
    """One row of the matrix."""

    label: str
    version: str
    status: str  # "passed", "FAILED", "skipped"
    detail: str
    required: bool


def allowed_requirement() -> Requirement:
    """The ``lm-eval`` requirement of setup.cfg's ``install_requires``."""
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    lines = [line.strip() for line in config["options"]["install_requires"].splitlines() if line.strip()]
    (line,) = [line for line in lines if re.match(r"lm[-_]eval\b", line)]
    return Requirement(line)


def released_versions() -> list[Version]:
    """lm-eval's releases on the package index (pip's ``index versions``)."""
    done = subprocess.run([sys.executable, "-m", "pip", "index", "versions", "lm-eval"], capture_output=True,
                          text=True, timeout=120, check=True)
    (line,) = [line for line in done.stdout.splitlines() if line.startswith("Available versions:")]
    return [Version(text.strip()) for text in line.split(":", 1)[1].split(",")]


def run_tests(pythonpath: str | None) -> tuple[bool, str]:
    """(passed?, pytest's summary line) of the lm-eval-facing tests, lm-eval from ``pythonpath`` if given."""
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [pythonpath, env.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "lmeval", "-p", "no:cacheprovider"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=TEST_TIMEOUT_S)
    if done.returncode != 0:
        sys.stdout.write(done.stdout[-6000:] + done.stderr[-2000:])
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    return done.returncode == 0, lines[-1] if lines else f"pytest exited with {done.returncode}"


def installed_version(pythonpath: str | None) -> str:
    """The lm-eval version a test run with ``pythonpath`` imports."""
    code = "from importlib import metadata; print(metadata.version('lm_eval'))"
    env = {**os.environ, "PYTHONPATH": pythonpath or ""}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout.strip()


def pip_target(requirement: str, folder: Path) -> subprocess.CompletedProcess:
    """``pip install --no-deps --target folder requirement`` (quiet)."""
    return subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(folder),
                           requirement], capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S)


def release_run(label: str, version: Version, scratch: Path) -> Outcome:
    """The lm-eval-facing tests against one release (the environment's own lm-eval when it is that release)."""
    pythonpath = None
    if Version(metadata.version("lm_eval")) != version:
        folder = scratch / f"lm_eval-{version}"
        installing = pip_target(f"lm-eval=={version}", folder)
        if installing.returncode != 0:
            return Outcome(label, str(version), "FAILED", f"could not install: {installing.stderr.strip()[-500:]}", True)
        pythonpath = str(folder)
    imported = installed_version(pythonpath)
    if Version(imported) != version:
        return Outcome(label, str(version), "FAILED", f"the tests would import lm-eval {imported}", True)
    passed, summary = run_tests(pythonpath)
    return Outcome(label, str(version), "passed" if passed else "FAILED", summary, True)


def main_branch_run(scratch: Path) -> Outcome:
    """The lm-eval-facing tests against lm-eval's main branch, or a skip with the reason it could not be installed."""
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    try:
        subprocess.run(["git", "ls-remote", "--heads", MAIN_REPOSITORY, "main"], capture_output=True, text=True,
                       timeout=REACH_TIMEOUT_S, check=True, env=env)
    except (OSError, subprocess.SubprocessError) as error:
        reason = getattr(error, "stderr", None) or str(error)
        return Outcome("main", "main branch", "skipped", f"could not install lm-eval main: {reason.strip()[-300:]}, skipped", False)
    folder = scratch / "lm_eval-main"
    installing = pip_target(MAIN_BRANCH, folder)
    if installing.returncode != 0:
        reason = installing.stderr.strip()[-300:]
        return Outcome("main", "main branch", "skipped", f"could not install lm-eval main: {reason}, skipped", False)
    version = installed_version(str(folder))
    passed, summary = run_tests(str(folder))
    return Outcome("main", f"main ({version})", "passed" if passed else "FAILED (allowed)", summary, False)


def main() -> int:
    """Run the matrix, print one line per run; 1 when the oldest or newest allowed release fails."""
    started = time.monotonic()
    requirement = allowed_requirement()
    allowed = sorted(v for v in released_versions() if requirement.specifier.contains(v))
    if not allowed:
        print(f"lm-eval matrix: no release satisfies {requirement}", flush=True)
        return 1
    releases = {"oldest": allowed[0], "newest": allowed[-1]}
    if allowed[0] == allowed[-1]:
        releases = {"oldest = newest": allowed[0]}
    print(f"lm-eval matrix ({requirement}): the lm-eval-facing tests (pytest -m lmeval) against "
          + ", ".join(f"{label} {version}" for label, version in releases.items()) + ", and lm-eval main", flush=True)
    scratch = Path(tempfile.mkdtemp(prefix="medpair-lm-eval-matrix-"))
    try:
        outcomes = [release_run(label, version, scratch) for label, version in releases.items()]
        outcomes.append(main_branch_run(scratch))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    for outcome in outcomes:
        print(f"lm-eval {outcome.label:>15} {outcome.version:>12}: {outcome.status:>16}  {outcome.detail}", flush=True)
    failed = [o for o in outcomes if o.required and o.status != "passed"]
    print(f"lm-eval matrix: {'FAILED' if failed else 'passed'} in {time.monotonic() - started:.0f} s", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
