"""Which protocol a run uses when none is named: the paper's for a study, medpair's for tasks and the demo."""

from __future__ import annotations

import pytest

from medpair_tasks.protocols import protocol_of
from medpair_tasks.study.cli import build_run_parser, study_protocol


def _protocol(*argv: str) -> str:
    return study_protocol(build_run_parser().parse_args(list(argv)))


def test_medpair_run_reproduces_the_paper_unless_told_otherwise():
    study = ["--medical", "org/m", "--base", "org/b", "--tasks", "medqa", "--out", "o"]
    assert _protocol(*study) == "jeong2024"
    assert _protocol(*study, "--protocol", "medpair") == "medpair"
    assert _protocol("--demo", "--out", "o") == "medpair"  # its tiny models learnt medpair's formats
    assert _protocol("--demo", "--out", "o", "--protocol", "jeong2024") == "jeong2024"


def test_a_task_without_a_protocol_keeps_medpairs():
    assert protocol_of({}).id == "medpair"
    assert protocol_of({"protocol": "jeong2024"}).id == "jeong2024"


def test_a_jeong2024_study_stops_generation_where_the_reference_does():
    from medpair_tasks.study.cli import _settings_from_args

    parser = build_run_parser()
    study = ["--medical", "org/m", "--base", "org/b", "--tasks", "medqa", "--out", "o"]
    _, config, options = _settings_from_args(parser.parse_args(study))
    assert config.protocol == "jeong2024" and options.gen_kwargs == "until=###"
    assert config.modes == ("gen",)  # the paper's main mode: greedy generation, its extractor
    _, _, options = _settings_from_args(parser.parse_args([*study, "--gen-kwargs", "max_gen_toks=8"]))
    assert options.gen_kwargs == "until=###,max_gen_toks=8"
    _, config, options = _settings_from_args(parser.parse_args([*study, "--protocol", "medpair"]))
    assert options.gen_kwargs is None and config.modes == ("mc",)
    with pytest.raises(ValueError, match="drop --apply-chat-template"):
        _settings_from_args(parser.parse_args([*study, "--apply-chat-template"]))
