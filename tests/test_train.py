"""Training tests compose the real config, shrink it, and call ``train(cfg)``."""

import json
import re
import time
from pathlib import Path

import pytest
import yaml
from hydra.errors import InstantiationException

from src.core.config import CONFIG_DIR
from src.core.errors import user_error
from src.data.io import DataError
from src.data.schema import SENTIMENTS, STANCES
from src.inference.loading import ModelError, load_task_model
from src.models.fitting import FitContext
from src.train import train
from tests.conftest import SMOKE, make_cfg, run_module

EXPERIMENTS = sorted(p.stem for p in Path(CONFIG_DIR, "experiment").glob("*.yaml"))
MODELS = sorted(p.stem for p in Path(CONFIG_DIR, "model").glob("*.yaml"))
# What the libraries print during a run unless log_level asks for it.
NOISE = ("Generating train split", "Casting the dataset", "pin_memory", "Writing model shards",
         "LOAD REPORT", "{'loss'", "'eval_macro_f1'")


@pytest.fixture(scope="module")
def local_bert(tmp_path_factory) -> Path:
    """A small BERT saved as a checkpoint folder: the pretrained path, offline."""
    from src.models.tiny import TinyBert

    tokenizer, model = TinyBert(hidden_size=32, num_attention_heads=2, intermediate_size=64,
                                num_hidden_layers=1).build(["a", "b"], ["نص للتجربة"] * 20)
    folder = tmp_path_factory.mktemp("local-bert")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_tiny_run_exports_complete_hugging_face_folders(tiny_run):
    run_dir, metrics = tiny_run
    assert json.loads((run_dir / "metrics.json").read_text()) == metrics
    assert (run_dir / "config.yaml").is_file()
    for task, labels in (("stance", STANCES), ("sentiment", SENTIMENTS)):
        folder = run_dir / task
        config = json.loads((folder / "config.json").read_text())
        assert config["id2label"] == {str(i): label for i, label in enumerate(labels)}
        assert config["label2id"] == {label: i for i, label in enumerate(labels)}
        assert config["finetuning_task"] == task
        assert (folder / "model.safetensors").is_file()
        assert not list(folder.glob("*.bin")), "no pickled files in an export"
        assert (folder / "tokenizer_config.json").is_file()
        assert json.loads((folder / "normalization.json").read_text())["dediac"] is True
        assert json.loads((folder / "metrics.json").read_text()) == metrics[task]
        for split in ("dev", "test"):
            assert {"accuracy", "macro_f1", "polar_macro_f1"} <= set(metrics[task][split])
            assert 0.0 <= metrics[task][split]["macro_f1"] <= 1.0
        card = (folder / "README.md").read_text()
        front = yaml.safe_load(card.split("---")[1])
        assert front["language"] == ["ar"] or front["language"] == "ar"
        assert front["pipeline_tag"] == "text-classification"
        results = front["model-index"][0]["results"][0]
        macro = next(m for m in results["metrics"] if m["type"] == "macro_f1")
        assert macro["value"] == pytest.approx(metrics[task]["test"]["macro_f1"])
        assert all(label in card for label in labels)


def test_export_loads_in_pipeline_without_project_code(tiny_run, tmp_path):
    run_dir, _ = tiny_run
    script = ("import json, sys; from transformers import pipeline\n"
              "classify = pipeline('text-classification', model=sys.argv[1], top_k=None)\n"
              "print(json.dumps(classify(['قال المتحدث إن الهجوم أحبط'])[0]))")
    for task, labels in (("stance", STANCES), ("sentiment", SENTIMENTS)):
        # Run from an empty folder so that nothing of this project can be imported.
        result = run_module("-c", script, str(run_dir / task), cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        scores = json.loads(result.stdout)
        assert sorted(s["label"] for s in scores) == sorted(labels)
        assert sum(s["score"] for s in scores) == pytest.approx(1.0, abs=1e-4)


def test_sentiment_export_loads_in_camel_tools(tiny_run, tmp_path):
    run_dir, _ = tiny_run
    # camel_tools.sentiment reads a data catalogue at import; an empty one keeps it offline.
    (tmp_path / "catalogue.json").write_text(
        '{"version": "1.6", "packages": {}, "components": {}}')
    script = ("import sys; from camel_tools.sentiment import SentimentAnalyzer\n"
              "print(SentimentAnalyzer(sys.argv[1], use_gpu=False).predict(\n"
              "    ['رحب المبعوث بالاتفاق', 'أدان الائتلاف القصف']))")
    result = run_module("-c", script, str(run_dir / "sentiment"), cwd=tmp_path,
                        env={"CAMELTOOLS_DATA": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    predicted = eval(result.stdout)  # a printed list of label strings
    assert len(predicted) == 2 and set(predicted) <= set(SENTIMENTS)


def test_same_config_and_seed_give_identical_metrics(tmp_path):
    overrides = (*SMOKE, "task=stance", "data.max_samples=64")
    first = train(make_cfg(tmp_path / "a", *overrides))
    second = train(make_cfg(tmp_path / "b", *overrides))
    assert first == second
    other_seed = train(make_cfg(tmp_path / "c", *overrides, "seed=7"))
    assert other_seed != first


def test_resume_continues_to_the_uninterrupted_result(tmp_path, monkeypatch):
    overrides = (*SMOKE, "task=stance", "data.max_samples=64", "trainer.args.num_train_epochs=3")
    uninterrupted = train(make_cfg(tmp_path / "full", *overrides))

    from transformers.trainer_callback import DefaultFlowCallback

    original = DefaultFlowCallback.on_epoch_end

    def stop_after_first_epoch(self, args, state, control, **kwargs):
        control = original(self, args, state, control, **kwargs)
        control.should_training_stop = state.epoch >= 1
        return control

    interrupted = tmp_path / "interrupted"
    with monkeypatch.context() as patch:
        patch.setattr(DefaultFlowCallback, "on_epoch_end", stop_after_first_epoch)
        train(make_cfg(interrupted, *overrides))
    # As after a crash: checkpoints written, the export never finished.
    assert list((interrupted / "checkpoints" / "stance").glob("checkpoint-*"))
    (interrupted / "stance" / "metrics.json").unlink()
    resumed = train(make_cfg(interrupted, *overrides, "resume=true"))
    assert resumed == uninterrupted


def test_resume_keeps_finished_tasks(tiny_run):
    run_dir, metrics = tiny_run
    again = train(make_cfg(run_dir, *SMOKE, "resume=true"))
    assert again == metrics


def test_every_checkpoint_is_a_model_folder_of_its_task(tiny_run):
    # Scoring a run's checkpoints epoch by epoch (scripts/bench_me5_recipe.py) loads them as
    # model folders: they must say their task, labels and length as the export does.
    from src.models import layout

    run_dir, _ = tiny_run
    for task in ("stance", "sentiment"):
        exported = json.loads((run_dir / task / "config.json").read_text())
        labels = load_task_model(run_dir / task).labels
        checkpoints = list((run_dir / "checkpoints" / task).glob("checkpoint-*"))
        assert checkpoints
        for folder in checkpoints:
            model = load_task_model(folder, device="cpu")
            assert (model.task, model.labels) == (task, labels)
            saved = json.loads((folder / "config.json").read_text())
            assert saved[layout.TRAINED_LENGTH] == exported[layout.TRAINED_LENGTH]
            assert layout.neutral_labels(folder) == layout.neutral_labels(run_dir / task)


def test_tfidf_run_has_the_same_metrics_shape_and_a_skops_model(tmp_path):
    import skops.io

    metrics = train(make_cfg(tmp_path, "model=tfidf"))
    for task in ("stance", "sentiment"):
        folder = tmp_path / task
        path = folder / "model.skops"
        model = skops.io.load(path, trusted=skops.io.get_untrusted_types(file=path))
        labels = json.loads((folder / "labels.json").read_text())["id2label"]
        predicted = model.predict(["قال المتحدث باسم الكرملين إن موسكو ترحب بالاتفاق"])
        assert labels[str(predicted[0])] in (STANCES if task == "stance" else SENTIMENTS)
        assert set(metrics[task]) == {"dev", "test"}
        assert metrics[task]["dev"]["macro_f1"] > 0.5, "tf-idf learns this data"
        assert (folder / "README.md").is_file()
        with pytest.raises(ModelError, match="scikit-learn model, which has no --backend onnx"):
            load_task_model(folder, backend="onnx")


@pytest.mark.parametrize("target", [False, True])
def test_a_saved_tfidf_keeps_its_terms_as_an_array_and_predicts_the_same(target):
    import skops.io

    from src.models.tfidf import TfidfLogReg, fix_vocabularies

    texts = ["قال المتحدث إن موسكو ترحب بالاتفاق", "أدان الائتلاف القصف على الغوطة",
             "عقد الاجتماع في جنيف", "رحب المبعوث بالهدنة"]
    rows = [[text, f"هدف {i % 2}"] for i, text in enumerate(texts)] if target else texts
    model = TfidfLogReg().pipeline(seed=1, balanced=False, target=target).fit(rows, [0, 1, 2, 0])
    expected = model.predict_proba(rows)
    fix_vocabularies(model)
    data = skops.io.dumps(model)
    loaded = skops.io.loads(data, trusted=skops.io.get_untrusted_types(data=data))
    features = loaded[0].transformers_[0][1] if target else loaded[0]
    assert not hasattr(features, "vocabulary_") and len(features.vocabulary) > 0
    assert (loaded.predict_proba(rows) == expected).all()


def test_local_folder_takes_the_pretrained_path(tmp_path, local_bert):
    run_dir = tmp_path / "run"
    metrics = train(make_cfg(run_dir, "model=camelbert_msa", f"model.name_or_path={local_bert}",
                             "trainer=cpu_smoke", "data.max_samples=48", "task=sentiment"))
    assert set(metrics) == {"sentiment"}
    config = json.loads((run_dir / "sentiment" / "config.json").read_text())
    assert list(config["id2label"].values()) == list(SENTIMENTS)
    assert "base_model" not in yaml.safe_load((run_dir / "sentiment" / "README.md")
                                              .read_text().split("---")[1])


@pytest.mark.slow
def test_run_shows_progress_and_a_summary_and_log_level_info_the_detail(tmp_path, monkeypatch,
                                                                        local_bert):
    # The tests' environment turns the datasets bars off; the command must do it itself.
    monkeypatch.delenv("HF_DATASETS_DISABLE_PROGRESS_BARS", raising=False)
    # A checkpoint folder loads through from_pretrained, which prints the load report of the new
    # head; use_cpu=false leaves pin_memory to the run, as on any machine without a GPU.
    common = ("model=camelbert_msa", f"model.name_or_path={local_bert}", "trainer=cpu_smoke",
              "data.max_samples=48", "trainer.args.num_train_epochs=1",
              "trainer.args.use_cpu=false")
    run_dir = tmp_path / "quiet"
    # Fresh datasets caches: a cached split is not generated again, so it would print nothing.
    quiet = run_module("-m", "src.train", *common, f"hydra.run.dir={run_dir}",
                       env={"HF_DATASETS_CACHE": str(tmp_path / "quiet-cache")})
    assert quiet.returncode == 0, quiet.stderr
    for noise in (*NOISE, "Traceback"):
        assert noise not in quiet.stdout + quiet.stderr, noise
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert [line.split() for line in quiet.stdout.splitlines()] == [
        ["task", "dev", "macro-F1", "test", "macro-F1"],
        *([task, *(f"{metrics[task][split]['macro_f1']:.4f}" for split in ("dev", "test"))]
          for task in ("stance", "sentiment")),
        ["run:", str(run_dir)],
    ]
    # stderr is a pipe, not a terminal: one line per epoch instead of a redrawn bar.
    assert "\r" not in quiet.stderr
    for task in ("stance", "sentiment"):
        (line,) = [line for line in quiet.stderr.splitlines() if line.startswith(f"{task}:")]
        assert line.startswith(f"{task}: epoch 1/1  loss ") and " dev macro_f1 " in line

    detailed = run_module("-m", "src.train", *common, "task=sentiment", "log_level=info",
                          f"hydra.run.dir={tmp_path / 'detailed'}",
                          env={"HF_DATASETS_CACHE": str(tmp_path / "detailed-cache")})
    assert detailed.returncode == 0, detailed.stderr
    assert "{'loss'" in detailed.stdout and "'eval_macro_f1'" in detailed.stdout
    assert "LOAD REPORT" in detailed.stderr and "Generating train split" in detailed.stderr


def test_unknown_log_level_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="log_level=loud: expected one of debug, info, warning"):
        train(make_cfg(tmp_path, "model=tfidf", "log_level=loud"))


def test_summary_table_has_a_column_per_split_and_headline():
    from src.train import summary_table

    table = summary_table({"stance": {"dev": {"macro_f1": 0.5}, "test": {"macro_f1": 0.25}},
                           "speaker": {"dev": {"speaker_exact_f1": 0.75},
                                       "test": {"speaker_exact_f1": 0.125}}})
    assert [line.split() for line in table.splitlines()] == [
        ["task", "dev", "macro-F1", "dev", "speaker", "exact-F1", "test", "macro-F1", "test",
         "speaker", "exact-F1"],
        ["stance", "0.5000", "—", "0.2500", "—"],
        ["speaker", "—", "0.7500", "—", "0.1250"],
    ]


def test_unreachable_hub_model_fails_fast_with_one_message(tmp_path):
    started = time.monotonic()
    result = run_module("-m", "src.train", f"hydra.run.dir={tmp_path / 'run'}",
                        env={"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")})
    assert time.monotonic() - started < 30
    assert result.returncode == 2
    assert "CAMeL-Lab/bert-base-arabic-camelbert-msa" in result.stderr
    assert "model=me5_small" in result.stderr and "model=tiny" in result.stderr
    assert "model.name_or_path" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_local_model_folder_is_reported(tmp_path):
    result = run_module("-m", "src.train", f"model.name_or_path={tmp_path}/absent",
                        f"hydra.run.dir={tmp_path / 'run'}")
    assert result.returncode == 2
    assert "does not exist" in result.stderr and "Traceback" not in result.stderr


def test_bad_data_file_is_one_message_and_exit_2(tmp_path):
    result = run_module("-m", "src.train", "model=tfidf", "data=table",
                        f"data.files.train={tmp_path}/absent.csv",
                        f"hydra.run.dir={tmp_path / 'run'}")
    assert result.returncode == 2
    assert f"{tmp_path}/absent.csv: no such file" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_experiment_composes(tmp_path, experiment):
    cfg = make_cfg(tmp_path, f"experiment={experiment}")
    assert cfg.model._target_ and cfg.data._target_


@pytest.mark.parametrize("model", MODELS)
def test_every_model_composes(tmp_path, model):
    assert make_cfg(tmp_path, f"model={model}").model._target_.startswith("src.models.")


def own_table(tmp_path: Path, labels=("Favor", "Against", "None"), header="tweet,label") -> Path:
    """60 rows of three labels that TF-IDF tells apart, with only a text and a label column."""
    words = ("ندعم ونرحب ونشيد", "نرفض وندين ونحذر", "أعلن الموعد")
    rows = [header] + [f"{words[i % 3]} بالقرار رقم {i},{labels[i % 3]}" for i in range(60)]
    table = tmp_path / "mine.csv"
    table.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return table


def test_own_table_trains_with_the_readme_command_as_written(tmp_path):
    # README, "Your own data": one task, its column and its raw values mapped, nothing removed.
    table = own_table(tmp_path)
    metrics = train(make_cfg(tmp_path / "run", "model=tfidf", "data=table",
                             f"data.files.train={table}", "data.text_column=tweet",
                             "data.label_columns.stance=label", "task=stance",
                             "data.label_values.stance={Favor: favor, Against: against, "
                             "None: none}"))
    assert list(metrics) == ["stance"]
    assert metrics["stance"]["test"]["macro_f1"] == 1.0
    saved = json.loads((tmp_path / "run" / "stance" / "labels.json").read_text())
    assert saved["id2label"] == {"0": "against", "1": "favor", "2": "none"}
    assert saved["neutral_labels"] == ["none"]
    card = (tmp_path / "run" / "stance" / "README.md").read_text()
    assert "mine.csv" in card


@pytest.mark.parametrize("data", ["qawl", "table"])
def test_label_values_labels_and_neutral_labels_are_set_alike_in_every_data_config(tmp_path,
                                                                                   data):
    cfg = make_cfg(tmp_path, f"data={data}", "data.label_values.sentiment={POS: positive}",
                   "data.labels.stance=[a, b]", "data.neutral_labels.sentiment=[NEU]")
    assert cfg.data.label_values.sentiment == {"POS": "positive"}
    assert list(cfg.data.labels.stance) == ["a", "b"]
    assert list(cfg.data.neutral_labels.sentiment) == ["NEU"]


def test_raw_labels_keep_polar_f1_once_their_neutral_label_is_named(tmp_path, capsys):
    table = own_table(tmp_path, ("POS", "NEG", "NEU"), header="tweet,sentiment")
    given = ("model=tfidf", "data=table", f"data.files.train={table}", "data.text_column=tweet",
             "task=sentiment")
    silent = train(make_cfg(tmp_path / "a", *given))
    assert "polar_macro_f1" not in silent["sentiment"]["test"]
    assert "no sentiment label is none or neutral (NEG, NEU, POS)" in capsys.readouterr().err
    named = train(make_cfg(tmp_path / "b", *given, "data.neutral_labels.sentiment=[NEU]"))
    assert named["sentiment"]["test"]["polar_macro_f1"] == 1.0
    saved = json.loads((tmp_path / "b" / "sentiment" / "labels.json").read_text())
    assert saved["neutral_labels"] == ["NEU"]
    card = (tmp_path / "b" / "sentiment" / "README.md").read_text()
    assert "Polar macro-F1 (without NEU)" in card
    with pytest.raises(InstantiationException) as caught:
        train(make_cfg(tmp_path / "c", *given, "data.neutral_labels.sentiment=[neutral]"))
    assert re.search("'neutral' is not a sentiment label .* NEG, NEU, POS",
                     str(user_error(caught.value)))


def test_a_task_the_file_has_no_column_for_names_the_way_out(tmp_path):
    table = own_table(tmp_path)
    with pytest.raises(InstantiationException) as caught:
        train(make_cfg(tmp_path / "run", "model=tfidf", "data=table", f"data.files.train={table}",
                       "data.text_column=tweet", "data.label_columns.stance=label"))
    assert re.search(r"missing column\(s\) sentiment \(data.label_columns.sentiment\).*task=",
                     str(user_error(caught.value)))


def test_task_without_its_column_is_a_clear_error(tmp_path):
    table = tmp_path / "only_stance.csv"
    table.write_text("text,stance\n" + "\n".join(f"نص {i},{'ab'[i % 2]}" for i in range(20)))
    with pytest.raises(InstantiationException) as caught:
        train(make_cfg(tmp_path / "run", "model=tfidf", "data=table", "task=sentiment",
                       f"data.files.train={table}", "~data.label_columns.sentiment"))
    assert isinstance(user_error(caught.value), DataError)
    assert "no sentiment column named (set data.label_columns.sentiment=COLUMN)" in str(
        user_error(caught.value))


def test_balanced_class_weights(tmp_path):
    cfg = make_cfg(tmp_path, "trainer.class_weights=balanced")
    from hydra.utils import instantiate

    data = instantiate(cfg.data)
    ctx = FitContext(task="stance", data=data, normalizer=instantiate(cfg.normalization),
                     trainer=cfg.trainer, seed=1, output_dir=tmp_path, checkpoint_dir=tmp_path)
    weights = ctx.class_weights()
    counts = [ctx.label_ids("train").count(i) for i in range(len(STANCES))]
    # balanced: n_samples / (n_classes * count), so weight × count is the same for all classes
    products = [w * c for w, c in zip(weights, counts, strict=True)]
    assert products == pytest.approx([len(ctx.label_ids("train")) / len(STANCES)] * len(STANCES))
    metrics = train(make_cfg(tmp_path / "run", *SMOKE, "task=stance", "data.max_samples=48",
                             "trainer.class_weights=balanced"))
    assert set(metrics["stance"]) == {"dev", "test"}


def test_multirun_writes_mean_and_std_across_seeds(tmp_path):
    result = run_module("-m", "src.train", "-m", "model=tfidf", "seed=1,2",
                        "data.max_samples=200", f"hydra.sweep.dir={tmp_path}")
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    (group,) = summary.values()
    assert group["seeds"] == ["1", "2"]
    macro = group["metrics"]["stance/test/macro_f1"]
    runs = [json.loads((tmp_path / str(i) / "metrics.json").read_text())["stance"]["test"]
            ["macro_f1"] for i in (0, 1)]
    assert macro["mean"] == pytest.approx(sum(runs) / 2)
    assert (tmp_path / "summary.md").read_text().count("±") >= 4


@pytest.mark.slow
def test_two_process_torchrun_matches_one_process(tmp_path):
    common = ["model=tiny", "trainer=cpu_smoke", "task=stance", "data.max_samples=128"]
    single = run_module("-m", "src.train", *common, "trainer.args.per_device_train_batch_size=16",
                        f"hydra.run.dir={tmp_path / 'one'}")
    assert single.returncode == 0, single.stderr
    # Two CPU processes (gloo) with half the batch each: the same effective batch.
    double = run_module("-m", "torch.distributed.run", "--nproc_per_node=2", "-m", "src.train",
                        *common, "trainer.args.per_device_train_batch_size=8",
                        f"hydra.run.dir={tmp_path / 'two'}")
    assert double.returncode == 0, double.stderr
    one = json.loads((tmp_path / "one" / "metrics.json").read_text())["stance"]
    two = json.loads((tmp_path / "two" / "metrics.json").read_text())["stance"]
    assert set(one["test"]) == set(two["test"])
    # Same data and recipe, different shuffling: close, not identical.
    for split in ("dev", "test"):
        assert abs(one[split]["macro_f1"] - two[split]["macro_f1"]) <= 0.15
    assert (tmp_path / "two" / "stance" / "model.safetensors").is_file()
    assert double.stdout.count("run:") == 1, "only the main process reports"


def test_tiny_tokenizer_learns_a_real_vocabulary():
    from src.models.tiny import SPECIAL_TOKENS, train_wordpiece

    texts = ["قال المتحدث باسم الكرملين إن الهدنة صامدة"] * 5 + ["أعلن الائتلاف رفضه"] * 5
    tokenizer = train_wordpiece(texts, vocab_size=200)
    assert len(tokenizer) > len(SPECIAL_TOKENS) + 10
    tokens = tokenizer.convert_ids_to_tokens(tokenizer("قال المتحدث")["input_ids"])
    assert tokens == ["[CLS]", "قال", "المتحدث", "[SEP]"]
    # Unknown words fall back to learnt pieces, never to [UNK] for known characters.
    assert tokenizer.tokenize("المتحدثين") == ["المتحدث", "##ين"]
    # The same texts give the same vocabulary, whatever the process.
    assert train_wordpiece(texts, vocab_size=200).get_vocab() == tokenizer.get_vocab()


# --- one run, one model per folder; resume continues the run as it was configured ---------

# A tfidf run of both tasks on a sample: a second or two of fitting.
SMALL_TFIDF = ("model=tfidf", "data.max_samples=60")
HYDRA_RECORD = ("config.yaml", "hydra.yaml", "overrides.yaml")


@pytest.fixture(scope="module")
def command_run(tmp_path_factory) -> Path:
    """A run made by the command: Hydra writes .hydra/ into the folder before training starts."""
    run_dir = tmp_path_factory.mktemp("command") / "run"
    result = run_module("-m", "src.train", *SMALL_TFIDF, f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stderr
    return run_dir


def copy_of(run_dir: Path, tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    """A copy of ``run_dir`` to change, and the bytes of its record."""
    import shutil

    copy = shutil.copytree(run_dir, tmp_path / "run")
    record = {name: (copy / name).read_bytes() for name in ("config.yaml", "metrics.json")}
    record.update({f".hydra/{name}": (copy / ".hydra" / name).read_bytes()
                   for name in HYDRA_RECORD})
    return copy, record


def unchanged(run_dir: Path, record: dict[str, bytes]) -> bool:
    return all((run_dir / name).read_bytes() == content for name, content in record.items())


def test_a_run_folder_that_holds_files_is_refused_without_resume(tmp_path):
    run_dir = tmp_path / "run"
    # What Hydra writes before the task starts does not count.
    (run_dir / ".hydra").mkdir(parents=True)
    (run_dir / ".hydra" / "config.yaml").write_text("task: stance\n")
    (run_dir / "train.log").write_text("")
    overrides = (*SMALL_TFIDF, "task=stance")
    train(make_cfg(run_dir, *overrides))
    before = {path: path.read_bytes() for path in run_dir.rglob("*") if path.is_file()}
    with pytest.raises(ModelError) as refused:
        train(make_cfg(run_dir, *overrides, "task=sentiment"))
    message = str(refused.value)
    assert message.startswith(f"{run_dir}: not empty (config.yaml, metrics.json, stance); ")
    assert "train into a new folder" in message and "resume=true" in message
    assert {path: path.read_bytes() for path in run_dir.rglob("*") if path.is_file()} == before


@pytest.mark.slow  # the command in a subprocess, refused before it loads any data
def test_training_into_a_used_run_folder_exits_2_and_leaves_it_alone(command_run, tmp_path):
    run_dir, record = copy_of(command_run, tmp_path)
    result = run_module("-m", "src.train", *SMOKE, "task=stance", f"hydra.run.dir={run_dir}")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert line.startswith(f"error: {run_dir}: not empty (") and "resume=true" in line
    assert not (run_dir / "stance" / "model.safetensors").exists()
    assert unchanged(run_dir, {name: data for name, data in record.items()
                               if not name.startswith(".hydra")})


def test_a_model_is_never_saved_over_a_model_of_another_kind(tmp_path):
    from hydra.utils import instantiate

    from src.models.recipe import save_trained

    cfg = make_cfg(tmp_path, *SMALL_TFIDF)
    folder = tmp_path / "stance"
    folder.mkdir()
    (folder / "config.json").write_text('{"finetuning_task": "stance"}')
    (folder / "model.safetensors").write_bytes(b"")
    ctx = FitContext(task="stance", data=instantiate(cfg.data, _convert_="all"),
                     normalizer=instantiate(cfg.normalization), trainer=cfg.trainer, seed=1,
                     output_dir=folder, checkpoint_dir=tmp_path / "checkpoints")
    with pytest.raises(ModelError, match=re.escape(f"{folder}: holds a transformers model "
                                                   "already; a model folder holds one model")):
        instantiate(cfg.model).fit(ctx)
    assert not (folder / "model.skops").exists()

    skops_folder = tmp_path / "sentiment"
    skops_folder.mkdir()
    (skops_folder / "model.skops").write_bytes(b"")
    # Refused before the trainer is asked to save anything.
    with pytest.raises(ModelError, match="holds a sklearn model already"):
        save_trained(None, skops_folder)


def test_a_folder_of_two_models_is_refused_when_read(tmp_path):
    from src.models import layout

    for name in ("model.skops", "labels.json", "config.json", "model.safetensors"):
        (tmp_path / name).write_text("{}")
    expected = (f"{tmp_path}: holds both model.skops and config.json, model.safetensors: a "
                "model folder holds one model")
    with pytest.raises(ModelError, match=re.escape(expected)):
        layout.kind_of(tmp_path)
    with pytest.raises(ModelError, match=re.escape(expected)):
        load_task_model(tmp_path)


@pytest.mark.slow  # the command in a subprocess
def test_resume_continues_with_the_runs_own_configuration(command_run, tmp_path):
    import shutil

    run_dir, record = copy_of(command_run, tmp_path)
    # As after a crash during the second task.
    shutil.rmtree(run_dir / "sentiment")
    record.pop("metrics.json")
    # No model= given: the default (a hub checkpoint, unreachable here) must not take over.
    result = run_module("-m", "src.train", "resume=true", f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stderr
    assert (run_dir / "sentiment" / "model.skops").is_file()
    assert not (run_dir / "sentiment" / "config.json").exists()
    assert set(json.loads((run_dir / "metrics.json").read_text())) == {"stance", "sentiment"}
    assert unchanged(run_dir, record), "the first run's record is kept"
    (resumed,) = (run_dir / ".hydra" / "resumed").iterdir()
    assert yaml.safe_load((resumed / "overrides.yaml").read_text()) == ["resume=true"]


@pytest.mark.slow  # the command in a subprocess, refused before it loads any data
def test_resume_refuses_another_model_or_data_and_keeps_the_record(command_run, tmp_path):
    run_dir, record = copy_of(command_run, tmp_path)
    result = run_module("-m", "src.train", "resume=true", "model=tiny", "data.max_samples=30",
                        f"hydra.run.dir={run_dir}")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert line.startswith("error: resume=true: data.max_samples, model._target_, ")
    assert f"differ from {run_dir / 'config.yaml'}" in line and "a new folder" in line
    assert unchanged(run_dir, record)


def test_resume_in_process_refuses_another_model(tiny_run):
    run_dir, _ = tiny_run
    saved = (run_dir / "config.yaml").read_bytes()
    with pytest.raises(ModelError, match=r"^resume=true: model\._target_, model\.vocab_size, "):
        train(make_cfg(run_dir, "model=tfidf", *SMOKE[1:], "resume=true"))
    assert (run_dir / "config.yaml").read_bytes() == saved


def test_resume_needs_the_runs_saved_configuration(tmp_path):
    with pytest.raises(ModelError, match=re.escape(f"{tmp_path / 'config.yaml'}: no such file; ")):
        train(make_cfg(tmp_path, *SMALL_TFIDF, "resume=true"))


def test_a_run_folder_holds_no_empty_log(command_run):
    assert sorted(path.name for path in command_run.iterdir()) == [
        ".hydra", "config.yaml", "metrics.json", "sentiment", "stance"]


def test_the_sklearn_card_loads_the_model_trusting_only_its_listed_types(tmp_path, monkeypatch,
                                                                       capsys):
    import skops.io

    train(make_cfg(tmp_path, *SMALL_TFIDF, "task=stance"))
    folder = tmp_path / "stance"
    card = (folder / "README.md").read_text()
    (snippet,) = re.findall(r"```python\n(.*?)```", card, flags=re.DOTALL)
    # The types are listed in the card as the export was saved, not asked of the file at load.
    assert "get_untrusted_types" not in snippet and "trusted=untrusted" not in card
    (listed,) = re.findall(r"^trusted = (\[.*\])$", snippet, flags=re.MULTILINE)
    assert eval(listed) == skops.io.get_untrusted_types(file=folder / "model.skops")
    monkeypatch.chdir(folder)
    exec(snippet, {})
    assert capsys.readouterr().out.strip() in STANCES


def test_a_run_keeps_each_tasks_whole_training_history(tiny_run):
    # The checkpoint kept is the best one; the history beside it covers every epoch run.
    run_dir, _ = tiny_run
    for task in ("stance", "sentiment"):
        state = json.loads((run_dir / "checkpoints" / task / "trainer_state.json").read_text())
        assert state["epoch"] == 2.0
        assert [entry["epoch"] for entry in state["log_history"]
                if "eval_macro_f1" in entry] == [1.0, 2.0]
