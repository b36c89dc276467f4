"""Build hook: ship ``medpair-lm-eval.pth`` at the top of site-packages (all metadata is in setup.cfg).

The one line of that file runs :func:`medpair_tasks._startup.activate` when Python starts, which
lets plain ``lm_eval`` find medpair's tasks and puts the clinical-data guard into every lm-eval
run (see the README, "Evaluating a model"). It is written into the wheel's root for a normal
build and into the editable wheel for ``pip install -e``; ``pip uninstall`` removes it.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

PTH_NAME = "medpair-lm-eval.pth"
PTH_LINE = "import medpair_tasks._startup as _medpair_startup; _medpair_startup.activate()\n"


class BuildPyWithStartupHook(build_py):
    """``build_py`` that also writes the start-up ``.pth`` file."""

    def run(self) -> None:
        """Build the packages, then write the ``.pth`` file next to them (and into an editable wheel)."""
        super().run()
        targets = [Path(self.build_lib)]
        if getattr(self, "editable_mode", False):  # the editable wheel is assembled in install's folder
            targets.append(Path(self.get_finalized_command("install").install_lib))
        for target in targets:
            target.mkdir(parents=True, exist_ok=True)
            (target / PTH_NAME).write_text(PTH_LINE, encoding="utf-8")

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        """The built files, the ``.pth`` file included."""
        return [*super().get_outputs(include_bytecode), str(Path(self.build_lib) / PTH_NAME)]


if __name__ == "__main__":  # setuptools runs this file as __main__; the benchmark imports the constants
    setup(cmdclass={"build_py": BuildPyWithStartupHook})
