"""A broken model folder or an option no model can run with stops predict and predict_bulk with
one ``error:`` line naming the file or option and what was expected; never a traceback."""

import json
import shutil

import pytest
import yaml

from src import predict, predict_bulk
from src.models.layout import TRAINED_LENGTH
from tests.conftest import run_module

STATEMENT = "قال لافروف إن موسكو ترحب بالاتفاق\n"


@pytest.fixture
def article(tmp_path):
    path = tmp_path / "article.txt"
    path.write_text(STATEMENT, encoding="utf-8")
    return path


@pytest.fixture
def stance(tiny_run, tmp_path):
    """A copy of the tiny run's stance model, to break."""
    return shutil.copytree(tiny_run[0] / "stance", tmp_path / "stance")


def one_error(capsys, main, *args) -> str:
    """The one line that ``main`` prints on stderr, checked to be an error with exit code 2."""
    code = main([*map(str, args)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err, err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err


def config_of(folder) -> dict:
    return json.loads((folder / "config.json").read_text())


def test_truncated_weights(capsys, stance, article):
    weights = stance / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    err = one_error(capsys, predict.main, article, "--run-dir", stance)
    assert f"error: {weights}: not a complete safetensors file" in err
    assert "expected the weights as saved" in err


def test_config_that_is_not_json(capsys, stance, article):
    (stance / "config.json").write_text('{"id2label": ')
    err = one_error(capsys, predict.main, article, "--run-dir", stance)
    assert f"error: {stance / 'config.json'}: not valid JSON" in err


def test_config_without_labels(capsys, stance, article):
    config = config_of(stance)
    del config["id2label"], config["label2id"]
    (stance / "config.json").write_text(json.dumps(config))
    err = one_error(capsys, predict.main, article, "--run-dir", stance)
    assert f"error: {stance / 'config.json'}: no id2label (expected the label of each" in err


def test_config_of_three_labels_on_a_four_way_head(capsys, stance, article):
    config = config_of(stance)
    config["id2label"] = {"0": "a", "1": "b", "2": "c"}
    config["label2id"] = {"a": 0, "b": 1, "c": 2}
    (stance / "config.json").write_text(json.dumps(config))
    err = one_error(capsys, predict.main, article, "--run-dir", stance)
    assert f"error: {stance / 'config.json'}: does not fit model.safetensors: " in err
    assert "classifier.bias is [4] in the weights but [3] for the config (3 labels" in err


def test_weights_without_the_head_warn_in_one_line(capsys, stance, article):
    from safetensors.torch import load_file, save_file

    weights = stance / "model.safetensors"
    tensors = {name: tensor for name, tensor in load_file(weights).items()
               if not name.startswith("classifier.")}
    save_file(tensors, weights, metadata={"format": "pt"})
    code = predict.main([str(article), "--run-dir", str(stance), "--format", "jsonl"])
    out, err = capsys.readouterr()
    assert code == 0 and len(out.splitlines()) == 1
    assert err.splitlines()[0] == (f"warning: {weights}: holds no classifier.bias, "
                                   "classifier.weight; those weights are random, and so are "
                                   "the predictions they make")
    assert "LOAD REPORT" not in err and "Traceback" not in err


def test_normalisation_settings_that_are_not_settings(capsys, stance, article):
    (stance / "normalization.json").write_text('{"unicode": true, "lowercase": true}')
    err = one_error(capsys, predict.main, article, "--run-dir", stance)
    assert f"error: {stance / 'normalization.json'}: expected an object of settings" in err
    assert "(found unknown lowercase)" in err


@pytest.mark.parametrize("main", [predict.main, predict_bulk.main], ids=["predict", "bulk"])
@pytest.mark.parametrize(("option", "value", "expected"), [
    ("--batch-size", "0", "expected a positive number of statements per forward pass"),
    ("--batch-size", "-3", "expected a positive number of statements per forward pass"),
    ("--max-length", "7", "expected at least 8 tokens per statement"),
    ("--max-length", "0", "expected at least 8 tokens per statement"),
    ("--device", "gpu0", "not a device name (expected cpu"),
])
def test_options_no_model_runs_with(capsys, tiny_run, tmp_path, article, main, option, value,
                                    expected):
    given = (article,) if main is predict.main else (article.parent, "--output",
                                                     tmp_path / "out.jsonl")
    err = one_error(capsys, main, *given, "--run-dir", tiny_run[0], option, value)
    assert err.startswith(f"error: {option} {value}: {expected}")


def test_device_this_machine_has_not(capsys, tiny_run, article):
    import torch

    if torch.cuda.device_count() > 7:
        pytest.skip("this machine has a cuda:7")
    err = one_error(capsys, predict.main, article, "--run-dir", tiny_run[0], "--device",
                    "cuda:7")
    assert err.startswith("error: --device cuda:7: this machine has ") and "expected cpu" in err


def test_bulk_refuses_a_batch_size_before_reading_anything(tmp_path, article):
    output = tmp_path / "out.jsonl"
    result = run_module("-m", "src.predict_bulk", str(article), "--output", str(output),
                        "--batch-size", "0")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr == ("error: --batch-size 0: expected a positive number of statements "
                             "per forward pass\n")
    assert not output.exists()


def trained_length(run) -> int:
    return yaml.safe_load((run / "config.yaml").read_text())["trainer"]["max_length"]


def test_the_export_records_its_training_length(tiny_run):
    length = trained_length(tiny_run[0])
    assert [config_of(tiny_run[0] / task)[TRAINED_LENGTH] for task in ("stance", "sentiment")
            ] == [length, length]


def test_a_length_beyond_training_warns_once(capsys, tiny_run, tmp_path, article):
    length = trained_length(tiny_run[0])

    def warnings(run, max_length: int) -> list[str]:
        code = predict.main([str(article), "--run-dir", str(run), "--format", "jsonl",
                             "--max-length", str(max_length)])
        out, err = capsys.readouterr()
        assert code == 0 and len(out.splitlines()) == 1, err
        return [line for line in err.splitlines() if "--max-length" in line]

    assert warnings(tiny_run[0], length) == []
    assert warnings(tiny_run[0], length + 1) == [
        f"warning: --max-length {length + 1} is beyond the tokens per statement the models "
        f"were trained on (stance {length}, sentiment {length}); training never saw statements "
        "that long, so their scores are less reliable"]
    # A run exported before config.json recorded the length: its config.yaml tells.
    old = shutil.copytree(tiny_run[0], tmp_path / "old", ignore=shutil.ignore_patterns(
        "checkpoints"))
    for task in ("stance", "sentiment"):
        config = config_of(old / task)
        del config[TRAINED_LENGTH]
        (old / task / "config.json").write_text(json.dumps(config))
    assert len(warnings(old, length + 1)) == 1
    # Copied out of its run, the old export keeps no record: nothing to warn of.
    alone = shutil.copytree(old / "stance", tmp_path / "alone")
    assert warnings(alone, length + 1) == []
