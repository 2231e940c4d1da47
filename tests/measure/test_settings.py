"""MeasurementSettings: one object, its defaults defined once, read by config, probe, trainer and estimator."""

from __future__ import annotations

import dataclasses
import inspect

import pytest
from tiny_configs import TINY

from infoflow import DiscreteUniform, InformationProbe, MeasurementSettings, measure_information, seed_network
from infoflow.config.schema import config_to_toml, parse_config
from infoflow.runs.contents import FolderOccupied, check_output_folder
from infoflow.training.experiment import build_trainer


def test_the_estimator_keywords_default_to_the_settings_defaults():
    # measure_information keeps its public keyword signature; its defaults must be the settings'.
    parameters = inspect.signature(measure_information).parameters
    defaults = MeasurementSettings().estimator_kwargs()
    assert {name: parameters[name].default for name in defaults} == defaults


def test_settings_and_keywords_give_the_same_measurement():
    settings = MeasurementSettings(n_samples=64, n_conditional=8, estimators=("kl_upper",))
    assert settings.estimators == ("sp", "kl_upper")  # SP is always measured, first
    net, inputs = seed_network("tanh-tanh"), DiscreteUniform([-1.0, 0.0, 1.0])
    by_settings = measure_information(net, inputs, settings=settings, seed=3)
    by_keywords = measure_information(net, inputs, seed=3, estimator=settings.estimators, **settings.estimator_kwargs())
    assert by_settings.mi_input == by_keywords.mi_input
    assert by_settings.mi_input_by_estimator["kl_upper"] == by_keywords.mi_input_by_estimator["kl_upper"]
    with pytest.raises(ValueError, match="not both"):
        measure_information(net, inputs, settings=settings, n_samples=10)


def test_bounds_and_target_error_travel_with_the_settings():
    settings = MeasurementSettings(n_samples=64, n_conditional=8, bounds=False)
    kwargs = settings.estimator_kwargs()
    assert kwargs["bounds"] is False and kwargs["target_error"] is None
    net, inputs = seed_network("tanh-tanh"), DiscreteUniform([-1.0, 0.0, 1.0])
    bare = measure_information(net, inputs, settings=settings, seed=3)
    assert bare.mi_input_lower is None and bare.mi_input_resolved is None
    bounded = measure_information(net, inputs, settings=settings.replace(bounds=True), seed=3)
    assert all(lo <= mi <= hi for lo, mi, hi in zip(bounded.mi_input_lower, bounded.mi_input, bounded.mi_input_upper))
    with pytest.raises(ValueError, match="not both"):
        measure_information(net, inputs, settings=settings, bounds=True, target_error=0.2)
    for bad, name in [({"target_error": 0.0}, "target_error"), ({"bounds": "yes"}, "bounds")]:
        with pytest.raises(ValueError, match=name) as caught:
            MeasurementSettings(**bad)
        assert "\n" not in str(caught.value)


def test_bad_settings_raise_one_line_naming_the_field():
    for changes, name in [({"n_samples": 0}, "n_samples"), ({"estimators": ("knn",)}, "estimators"),
                          ({"binning_bin_size": -1.0}, "bin_size"), ({"colour": 1}, "colour")]:  # fmt: skip
        with pytest.raises(ValueError) as caught:
            MeasurementSettings(**changes)
        assert name in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(ValueError, match="n_conditional"):
        dataclasses.replace(MeasurementSettings(), n_conditional=1.5)


def test_the_config_embeds_the_settings_and_the_probe_and_trainer_use_them():
    config = parse_config(TINY.replace("[estimation]", "[estimation]\nbinning_bin_size = 0.25"))
    assert isinstance(config.estimation, MeasurementSettings) and config.estimation.bin_size == 0.25
    assert parse_config(config_to_toml(config)) == config  # written as bin_size, read back equal
    trainer = build_trainer(config, 0)
    assert trainer.probe.settings == config.estimation
    probe = InformationProbe(trainer.net, trainer.inputs, settings=config.estimation, n_samples=7)
    assert probe.settings == dataclasses.replace(config.estimation, n_samples=7)


def test_every_producer_refuses_an_occupied_folder_the_same_way(tmp_path):
    (tmp_path / "notes.md").write_text("mine")
    with pytest.raises(FolderOccupied, match="not empty") as caught:
        check_output_folder(tmp_path, advice="choose another")
    assert isinstance(caught.value, FileExistsError) and isinstance(caught.value, ValueError)
    assert check_output_folder(tmp_path, may_reuse=lambda folder: (folder / "notes.md").is_file()) == tmp_path
    with pytest.raises(FolderOccupied, match="not a folder"):
        check_output_folder(tmp_path / "notes.md")
    assert check_output_folder(tmp_path / "new") == tmp_path / "new" and not (tmp_path / "new").exists()
