import json
import shutil

import numpy as np
import pytest

from src import export, predict
from src.data.io import read_jsonl
from src.data.paths import RAW_ARTICLE, SPLIT_FILES
from src.inference.loading import ModelError, load_task_model


@pytest.fixture(scope="module")
def onnx_folder(tiny_run, tmp_path_factory):
    """A copy of the tiny run's stance model with both ONNX files written by the CLI."""
    folder = tmp_path_factory.mktemp("onnx") / "stance"
    shutil.copytree(tiny_run[0] / "stance", folder)
    assert export.main([str(folder), "--onnx", "--int8"]) == 0
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
        code = predict.main([str(RAW_ARTICLE), "--model", str(onnx_folder), "--backend", backend,
                             "--format", "jsonl"])
        assert code == 0
        rows[backend] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows["torch"]) == 19
    for torch_row, onnx_row in zip(rows["torch"], rows["onnx"], strict=True):
        assert onnx_row["stance_score"] == pytest.approx(torch_row["stance_score"], abs=1e-3)
        assert {**onnx_row, "stance_score": None} == {**torch_row, "stance_score": None}


def test_missing_onnx_file_says_how_to_write_it(tiny_run, capsys):
    code = predict.main([str(RAW_ARTICLE), "--model", str(tiny_run[0]), "--backend", "onnx-int8"])
    assert code == 2
    assert "python -m src.export" in capsys.readouterr().err
    with pytest.raises(ModelError, match="--onnx --int8"):
        load_task_model(tiny_run[0] / "stance", backend="onnx-int8")


@pytest.mark.parametrize("args", [["--int8"], []])
def test_export_needs_something_to_do(tiny_run, args):
    with pytest.raises(SystemExit) as exit_info:
        export.main([str(tiny_run[0]), *args])
    assert exit_info.value.code == 2
