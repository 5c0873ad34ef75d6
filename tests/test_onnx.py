import json
import shutil
from types import SimpleNamespace

import numpy as np
import pytest

from src import export, predict
from src.data.io import read_jsonl
from src.data.paths import RAW_ARTICLE, SPLIT_FILES
from src.inference import rows, speakers
from src.inference.loading import ModelError, load_task_model, padded
from src.text.normalization import ArabicNormalizer
from tests.conftest import run_module


@pytest.fixture(scope="module")
def onnx_folder(tiny_run, tmp_path_factory):
    """A copy of the tiny run's stance model with both ONNX files written by the CLI."""
    folder = tmp_path_factory.mktemp("onnx") / "stance"
    shutil.copytree(tiny_run[0] / "stance", folder)
    assert export.main(["--run-dir", str(folder), "--onnx", "--int8"]) == 0
    return folder


def test_export_writes_fp32_and_int8(onnx_folder):
    fp32, int8 = onnx_folder / "onnx" / "model.onnx", onnx_folder / "onnx" / "model_quantized.onnx"
    assert fp32.is_file() and int8.is_file()
    assert int8.stat().st_size < fp32.stat().st_size / 2
    assert not list((onnx_folder / "onnx").glob("*.prepared.onnx"))


@pytest.mark.parametrize(("backend", "atol"), [("onnx", 1e-4), ("onnx-int8", None)])
def test_onnx_labels_agree_with_torch_on_the_test_split(onnx_folder, backend, atol):
    texts = [r["text"] for r in read_jsonl(SPLIT_FILES["test"])]
    reference = load_task_model(onnx_folder).probabilities(texts)
    scores = load_task_model(onnx_folder, backend=backend).probabilities(texts)
    assert np.mean(scores.argmax(1) == reference.argmax(1)) >= 0.99
    if atol:
        np.testing.assert_allclose(scores, reference, atol=atol)


def test_predict_backend_gives_the_torch_rows(onnx_folder, capsys):
    rows = {}
    for backend in ("torch", "onnx"):
        code = predict.main([str(RAW_ARTICLE), "--run-dir", str(onnx_folder), "--backend", backend,
                             "--format", "jsonl"])
        assert code == 0
        rows[backend] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows["torch"]) == 19
    for torch_row, onnx_row in zip(rows["torch"], rows["onnx"], strict=True):
        assert onnx_row["stance_score"] == pytest.approx(torch_row["stance_score"], abs=1e-3)
        assert {**onnx_row, "stance_score": None} == {**torch_row, "stance_score": None}


def test_missing_onnx_file_says_how_to_write_it(tiny_run, capsys):
    code = predict.main([str(RAW_ARTICLE), "--run-dir", str(tiny_run[0]),
                         "--backend", "onnx-int8"])
    assert code == 2
    assert "python -m src.export" in capsys.readouterr().err
    with pytest.raises(ModelError, match="--onnx --int8"):
        load_task_model(tiny_run[0] / "stance", backend="onnx-int8")


@pytest.mark.parametrize("args", [["--int8"], []])
def test_export_needs_something_to_do(tiny_run, args):
    with pytest.raises(SystemExit) as exit_info:
        export.main(["--run-dir", str(tiny_run[0]), *args])
    assert exit_info.value.code == 2


def test_onnx_tokenisation_gives_the_transformers_ids(onnx_folder):
    texts = [r["text"] for r in read_jsonl(SPLIT_FILES["test"])]
    # The speaker-input form writes [SEP] into the text; a long text is cut by neither.
    texts += [f"لافروف [SEP] {text}" for text in texts[:20]] + ["", "abc ١٢٣", " ".join(texts)]
    reference = load_task_model(onnx_folder)
    onnx = load_task_model(onnx_folder, backend="onnx")
    assert onnx.encode(texts) == reference.encode(texts)
    assert onnx.max_length == reference.max_length
    # Cut to the same ids: the start and the final [SEP].
    np.testing.assert_allclose(onnx.probabilities(texts[-2:]),
                               reference.probabilities(texts[-2:]), atol=1e-4)
    assert onnx.truncated == reference.truncated == [1]


@pytest.mark.parametrize("side", ["right", "left"])
def test_numpy_padding_is_the_tokenizers(onnx_folder, side):
    tokenizer = load_task_model(onnx_folder).tokenizer
    tokenizer.padding_side = side
    input_ids = tokenizer(["قال المتحدث", "قال", "قال المتحدث باسم الكرملين إن الهدنة صامدة"]
                          )["input_ids"]
    expected = tokenizer.pad({"input_ids": input_ids}, return_tensors="np")
    found = padded(input_ids, tokenizer.pad_token_id, side)
    for name in ("input_ids", "attention_mask"):
        np.testing.assert_array_equal(found[name], expected[name])
        assert found[name].dtype == np.int64


def test_light_dediacritisation_is_camel_tools():
    from camel_tools.utils.dediac import dediac_ar

    every_character = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000)
    dediac_only = ArabicNormalizer(unicode=False, tatweel=False, digits=False, invisible=False)
    assert dediac_only(every_character) == dediac_ar(every_character)
    assert dediac_only("مُحَمَّدٌ") == "محمد"


def test_onnx_predict_imports_neither_torch_nor_transformers(onnx_folder):
    # Run as `python -m src.predict` runs, then read what it imported.
    script = ("import runpy, sys\n"
              "try:\n"
              "    runpy.run_module('src.predict', run_name='__main__')\n"
              "except SystemExit as done:\n"
              "    code = done.code\n"
              "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules), "
              "file=sys.stderr)\n"
              "sys.exit(code)\n")
    result = run_module("-c", script, str(RAW_ARTICLE), "--run-dir", str(onnx_folder),
                        "--backend", "onnx-int8", "--format", "jsonl")
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 19
    assert result.stderr.splitlines()[-1] == "[]"
    assert "Traceback" not in result.stderr


def test_onnx_backend_without_tokenizer_json_says_what_it_reads(onnx_folder, tmp_path, capsys):
    folder = tmp_path / "stance"
    shutil.copytree(onnx_folder, folder)
    (folder / "tokenizer.json").unlink()
    code = predict.main([str(RAW_ARTICLE), "--run-dir", str(folder), "--backend", "onnx"])
    err = capsys.readouterr().err
    assert code == 2
    assert f"error: {folder}: no tokenizer.json, which the onnx backends read" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("backend", ["onnx-int8", "torch"])
def test_a_speaker_tagger_says_once_that_it_runs_on_torch(tmp_path, monkeypatch, capsys,
                                                           backend):
    (tmp_path / "speaker").mkdir()
    (tmp_path / "speaker" / "config.json").write_text("{}")
    loaded = []
    monkeypatch.setattr(speakers, "tagger_of", lambda run, device: loaded.append(device)
                        or SimpleNamespace(folder=run / "speaker"))
    rows.speakers_for(tmp_path, "cpu", backend)
    err = capsys.readouterr().err
    assert loaded == ["cpu"]
    assert err.count("speakers from the tagger in") == 1
    assert (f"runs on torch: --backend {backend}" in err) == (backend != "torch")
