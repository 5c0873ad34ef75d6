"""The speaker tagger (``task=speaker``): span alignment, span metrics, a tiny training run whose
export loads in a plain pipeline, and the data and model errors."""

import json
import shutil
from pathlib import Path

import pytest
import yaml
from datasets import Dataset, DatasetDict

from src.core.paths import PROJECT_ROOT
from src.data.io import DataError
from src.inference.tagging import BIO_LABELS, CUE, SPEAKER, SpeakerTagger, best_spans
from src.models.speaker_tagger import (
    IGNORED,
    annotated_splits,
    bio_tags,
    entity_spans,
    span_metrics,
)
from src.models.tiny import SPECIAL_TOKENS, train_wordpiece
from src.text.tagged import Span
from src.train import tasks_of, train
from tests.conftest import make_cfg, record, run_module

# Speakers and cues at different places, of one to four words, with and without a clitic, and
# statements without them: a tagger that finds every phrase exactly has learnt the spans.
STATEMENTS = [
    ("قال المتحدث باسم الكرملين دميتري بيسكوف إن موسكو ترحب بالاتفاق", "دميتري بيسكوف", "قال"),
    ("وأعلن المرصد السوري لحقوق الإنسان مقتل عشرة مدنيين في غارات على إدلب",
     "المرصد السوري لحقوق الإنسان", "وأعلن"),
    ("أسفرت الغارات عن مقتل ثلاثة مدنيين في ريف حلب، وفقا للمرصد", "للمرصد", "وفقا"),
    ("نقلت سانا عن مصدر عسكري قوله إن الجيش أحبط هجوما على مواقعه", "مصدر عسكري", "نقلت"),
    ("الجبير: لا مكان لبشار الأسد في مستقبل سوريا", "الجبير", None),
    ("استعادت القوات الحكومية السيطرة على بلدة في ريف حماة", None, None),
    ("واتهمت الأمم المتحدة قوات الحكومة بمنع خروج المدنيين من الغوطة", "الأمم المتحدة",
     "واتهمت"),
    ("وقالت وزارة الخارجية الروسية في بيان إن الهدنة صامدة", "وزارة الخارجية الروسية", "وقالت"),
]
# The tiny model learns the repeated set in ten epochs of 5 steps.
# Without early stopping: a tagger trained from scratch finds no whole span for its first epochs.
TAGGER_RUN = ("model=tiny", "trainer=tiny", "task=speaker", "trainer.args.num_train_epochs=10",
              "trainer.args.learning_rate=1e-3", "trainer.early_stopping_patience=null")


def char_span(text: str, phrase: str | None) -> list[int] | None:
    if phrase is None:
        return None
    start = text.index(phrase)
    return [start, start + len(phrase)]


def real_rows(split: str, repeat: int = 1) -> list[dict]:
    return [record(id=f"real-{split}-{i}-{k}", text=text, source="real", speaker=speaker,
                   speaker_span=char_span(text, speaker), cue_span=char_span(text, cue),
                   speaker_inherited=False, clutter=False, split=split,
                   # two classes of each: task=all trains the classifiers too
                   stance=("none", "regime")[i % 2], sentiment=("neutral", "negative")[i % 2])
            for k in range(repeat) for i, (text, speaker, cue) in enumerate(STATEMENTS)]


def data_overrides(folder: Path) -> list[str]:
    # The splits share their statements on purpose.
    return ["data.allow_overlap=true", *(f"data.files.{split}={folder / f'{split}.jsonl'}"
                                         for split in ("train", "dev", "test"))]


def write_splits(folder: Path, rows: dict[str, list]) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    for split, split_rows in rows.items():
        (folder / f"{split}.jsonl").write_text(
            "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in split_rows),
            encoding="utf-8")
    return data_overrides(folder)


@pytest.fixture(scope="module")
def one_thread():
    """A model this small gains nothing from a second thread, and two threads contending with
    other work for two cores cost much: the tagger run took 9 s on one thread and 40 s on two,
    measured beside another training job."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def speaker_files(tmp_path_factory):
    """Real-like statements, the train split repeated, beside one authored statement that the
    tagger must leave out."""
    authored = record(id="authored-1")
    return write_splits(tmp_path_factory.mktemp("speaker_data"), {
        "train": [*real_rows("train", repeat=8), authored],
        "dev": [*real_rows("dev"), authored],
        "test": [*real_rows("test"), authored],
    })


@pytest.fixture(scope="module")
def speaker_run(tmp_path_factory, speaker_files, one_thread):
    run_dir = tmp_path_factory.mktemp("speaker_run")
    return run_dir, train(make_cfg(run_dir, *TAGGER_RUN, *speaker_files))


def wordpiece(*pieces: str):
    """A BERT tokenizer with exactly these pieces, so that a test knows its tokens."""
    from transformers import BertTokenizer

    vocabulary = [*SPECIAL_TOKENS, *pieces]
    return BertTokenizer(vocab={piece: i for i, piece in enumerate(vocabulary)},
                         do_lower_case=False, tokenize_chinese_chars=False, strip_accents=False)


def tagged(tokenizer, text: str, speaker=None, cue=None) -> list[tuple[str, str | None]]:
    encoded = tokenizer(text, return_offsets_mapping=True, return_special_tokens_mask=True)
    tags = bio_tags(encoded["offset_mapping"], encoded["special_tokens_mask"],
                    {SPEAKER: speaker, CUE: cue})
    tokens = tokenizer.convert_ids_to_tokens(encoded["input_ids"])
    return [(token, None if tag == IGNORED else BIO_LABELS[tag])
            for token, tag in zip(tokens, tags, strict=True)]


def test_spans_become_bio_tags_of_whole_words():
    tokenizer = wordpiece("وقال", "المتحدث", "باسم", "الكرملين", "إن", "الهدنة", "صامدة")
    text = "وقال المتحدث باسم الكرملين إن الهدنة صامدة"
    assert tagged(tokenizer, text, speaker=[5, 26], cue=[0, 4]) == [
        ("[CLS]", None), ("وقال", "B-CUE"), ("المتحدث", "B-SPEAKER"), ("باسم", "I-SPEAKER"),
        ("الكرملين", "I-SPEAKER"), ("إن", "O"), ("الهدنة", "O"), ("صامدة", "O"), ("[SEP]", None)]
    assert [tag for _, tag in tagged(tokenizer, text)] == [None, *["O"] * 7, None]


def test_a_span_over_part_of_a_token_tags_the_whole_token():
    tokenizer = wordpiece("وقال", "المتحدث")
    # «قال» without its clitic, and the first letters of «المتحدث»
    assert tagged(tokenizer, "وقال المتحدث", speaker=[5, 8], cue=[1, 4]) == [
        ("[CLS]", None), ("وقال", "B-CUE"), ("المتحدث", "B-SPEAKER"), ("[SEP]", None)]


def test_a_clitic_split_into_pieces_is_tagged_piece_by_piece():
    tokenizer = wordpiece("و", "##قال", "المتحدث")
    assert tagged(tokenizer, "وقال المتحدث", cue=[0, 4]) == [
        ("[CLS]", None), ("و", "B-CUE"), ("##قال", "I-CUE"), ("المتحدث", "O"), ("[SEP]", None)]
    # a span of «قال» alone leaves the clitic's piece outside
    assert tagged(tokenizer, "وقال المتحدث", cue=[1, 4])[1:3] == [("و", "O"), ("##قال", "B-CUE")]


def test_offsets_that_include_the_space_before_a_word():
    # XLM-R's tokenizer (e5's) gives «▁المتحدث» the offsets (4, 12) in «وقال المتحدث ...».
    offsets, special = [(0, 0), (0, 4), (4, 12), (12, 15), (0, 0)], [1, 0, 0, 0, 1]
    tags = bio_tags(offsets, special, {SPEAKER: [5, 12], CUE: [0, 4]})
    assert [None if t == IGNORED else BIO_LABELS[t] for t in tags] == [
        None, "B-CUE", "B-SPEAKER", "O", None]


def test_real_spans_come_back_from_their_tags():
    rows = [json.loads(line) for line in
            (PROJECT_ROOT / "data" / "qawl" / "dev.jsonl").read_text().splitlines()]
    rows = [row for row in rows if row["source"] == "real"]
    tokenizer = train_wordpiece([row["text"] for row in rows], 4000)
    for row in rows:
        encoded = tokenizer(row["text"], return_offsets_mapping=True,
                            return_special_tokens_mask=True)
        offsets = encoded["offset_mapping"]
        tags = bio_tags(offsets, encoded["special_tokens_mask"],
                        {SPEAKER: row["speaker_span"], CUE: row["cue_span"]})
        found = {entity: [offsets[start][0], offsets[end - 1][1]] for entity, start, end
                 in entity_spans(["O" if t == IGNORED else BIO_LABELS[t] for t in tags])}
        expected = {entity: row[column] for entity, column in
                    ((SPEAKER, "speaker_span"), (CUE, "cue_span")) if row[column]}
        assert found == expected, row["id"]


def test_entity_spans_read_bio_as_conlleval_does():
    assert entity_spans(["O", "B-SPEAKER", "I-SPEAKER", "O", "B-CUE"]) == {
        (SPEAKER, 1, 3), (CUE, 4, 5)}
    # a stray I- opens a span; B- always does; another entity's I- ends the current one
    assert entity_spans(["I-CUE", "I-CUE", "B-CUE", "I-SPEAKER"]) == {
        (CUE, 0, 2), (CUE, 2, 3), (SPEAKER, 3, 4)}


def test_span_metrics_exact_and_overlap():
    gold = [["O", "B-SPEAKER", "I-SPEAKER", "O", "B-CUE"], ["O", "O", "O"]]
    predicted = [["O", "B-SPEAKER", "O", "O", "B-CUE"], ["B-SPEAKER", "O", "O"]]
    metrics = span_metrics(gold, predicted)
    assert metrics["speaker_exact_f1"] == 0.0
    assert metrics["speaker_overlap_precision"] == 0.5  # one of two predicted spans hits
    assert metrics["speaker_overlap_recall"] == 1.0
    assert metrics["speaker_overlap_f1"] == pytest.approx(2 / 3)
    assert metrics["cue_exact_f1"] == metrics["cue_overlap_f1"] == 1.0
    assert span_metrics([["O"]], [["O"]])["speaker_exact_f1"] == 0.0


def test_pipeline_spans_lose_the_space_some_tokenizers_count_in():
    text = "وقال المتحدث إن الوزير"
    groups = [{"entity_group": SPEAKER, "start": 4, "end": 12, "score": 0.9},
              {"entity_group": SPEAKER, "start": 15, "end": 22, "score": 0.4},
              {"entity_group": CUE, "start": 0, "end": 4, "score": 0.8}]
    found = best_spans(groups, text)
    assert found.speaker == Span(5, 12, 0.9) and text[5:12] == "المتحدث"
    assert found.cue == Span(0, 4, 0.8)


def test_a_name_cut_into_two_groups_is_one_speaker():
    text = "وقال ديمتري بيسكوف إن"
    groups = [{"entity_group": CUE, "start": 0, "end": 4, "score": 0.9},
              {"entity_group": SPEAKER, "start": 4, "end": 11, "score": 0.8},
              {"entity_group": SPEAKER, "start": 11, "end": 15, "score": 0.6},
              {"entity_group": SPEAKER, "start": 15, "end": 18, "score": 0.4}]
    found = best_spans(groups, text)
    assert text[found.speaker.start:found.speaker.end] == "ديمتري بيسكوف"
    assert found.speaker.score == pytest.approx(0.6)


def test_a_span_that_ends_inside_a_word_takes_the_whole_word():
    text = "وقال الغضبان، إن"
    groups = [{"entity_group": SPEAKER, "start": 5, "end": 7, "score": 0.7},  # «ال|غضبان»
              {"entity_group": CUE, "start": 1, "end": 4, "score": 0.9}]
    found = best_spans(groups, text)
    assert text[found.speaker.start:found.speaker.end] == "الغضبان"
    assert text[found.cue.start:found.cue.end] == "وقال"


def test_speaker_run_exports_a_token_classification_folder(speaker_run):
    run_dir, metrics = speaker_run
    folder = run_dir / "speaker"
    assert SpeakerTagger.in_run(run_dir) == folder
    assert json.loads((run_dir / "metrics.json").read_text()) == metrics
    assert json.loads((folder / "metrics.json").read_text()) == metrics["speaker"]
    config = json.loads((folder / "config.json").read_text())
    assert config["id2label"] == {str(i): label for i, label in enumerate(BIO_LABELS)}
    assert config["finetuning_task"] == "speaker"
    assert config["architectures"] == ["BertForTokenClassification"]
    assert (folder / "model.safetensors").is_file() and (folder / "tokenizer.json").is_file()
    assert not list(folder.glob("*.bin")), "no pickled files in an export"
    assert not (folder / "normalization.json").exists(), "the tagger reads raw text"
    # the pipeline tags as many tokens as training saw (trainer/tiny.yaml)
    assert json.loads((folder / "tokenizer_config.json").read_text())["model_max_length"] == 96
    for split in ("dev", "test"):
        assert {f"{entity}_{kind}_{score}" for entity in ("speaker", "cue")
                for kind in ("exact", "overlap") for score in ("precision", "recall", "f1")
                } <= set(metrics["speaker"][split])
    front = yaml.safe_load((folder / "README.md").read_text().split("---")[1])
    assert front["pipeline_tag"] == "token-classification"
    scores = front["model-index"][0]["results"][0]["metrics"]
    exact = next(m for m in scores if m["type"] == "speaker_exact_f1")
    assert exact["value"] == pytest.approx(metrics["speaker"]["test"]["speaker_exact_f1"])
    checkpoints = (run_dir / "checkpoints" / "speaker").glob("checkpoint-*/trainer_state.json")
    state = max((json.loads(path.read_text()) for path in checkpoints),
                key=lambda state: state["global_step"])
    losses = [entry["loss"] for entry in state["log_history"] if "loss" in entry]
    assert losses[-1] < losses[0] / 3


def test_export_loads_in_a_plain_pipeline_and_finds_the_training_speakers(speaker_run):
    from transformers import pipeline

    folder = speaker_run[0] / "speaker"
    text, speaker, cue = STATEMENTS[1]
    groups = pipeline("token-classification", model=str(folder),
                      aggregation_strategy="simple")(text)
    assert {g["entity_group"] for g in groups} == {SPEAKER, CUE}
    found = SpeakerTagger(folder)([text for text, _, _ in STATEMENTS])
    for (text, speaker, cue), tags in zip(STATEMENTS, found, strict=True):
        assert (text[tags.speaker.start:tags.speaker.end] if tags.speaker else None) == speaker
        assert (text[tags.cue.start:tags.cue.end] if tags.cue else None) == cue
    assert speaker_run[1]["speaker"]["dev"]["speaker_exact_f1"] == 1.0


def test_loading_the_tagger_draws_no_bar(speaker_run, capfd):
    # Predict and evaluate with scikit-learn classifiers load no other transformers model, so
    # nothing else turns transformers' weight-loading bar off first.
    from transformers.utils import logging

    logging.enable_progress_bar()
    SpeakerTagger(speaker_run[0] / "speaker")
    assert "Loading weights" not in capfd.readouterr().err


def test_resume_keeps_the_finished_tagger(speaker_run, speaker_files):
    run_dir, metrics = speaker_run
    assert train(make_cfg(run_dir, *TAGGER_RUN, *speaker_files, "resume=true")) == metrics


def test_all_resumed_adds_the_classifiers_beside_the_tagger(speaker_run, speaker_files,
                                                            tmp_path, one_thread):
    run_dir = tmp_path / "run"
    shutil.copytree(speaker_run[0], run_dir)
    metrics = train(make_cfg(run_dir, *TAGGER_RUN, *speaker_files, "task=all", "resume=true",
                             "+trainer.args.max_steps=2"))
    assert list(metrics) == ["stance", "sentiment", "speaker"]
    assert metrics["speaker"] == speaker_run[1]["speaker"]
    for task in metrics:
        assert json.loads((run_dir / task / "config.json").read_text())["finetuning_task"] == task
    assert (run_dir / "stance" / "normalization.json").is_file()


def test_same_config_and_seed_train_the_same_tagger(tmp_path, speaker_files, one_thread):
    short = (*TAGGER_RUN, *speaker_files, "+trainer.args.max_steps=3")
    first = train(make_cfg(tmp_path / "a", *short))
    assert train(make_cfg(tmp_path / "b", *short)) == first
    assert train(make_cfg(tmp_path / "c", *short, "seed=7")) != first


def test_all_is_both_and_the_tagger(tmp_path):
    both = ["stance", "sentiment"]
    assert tasks_of(make_cfg(tmp_path, "task=all"), both) == ("stance", "sentiment", "speaker")
    assert tasks_of(make_cfg(tmp_path, "task=all"), ["stance"]) == ("stance", "speaker")
    assert tasks_of(make_cfg(tmp_path), both) == ("stance", "sentiment")
    assert tasks_of(make_cfg(tmp_path, "task=speaker"), both) == ("speaker",)


@pytest.mark.parametrize("model", ["tiny", "camelbert_msa"])
@pytest.mark.parametrize("head", ["sequence", "token"])
def test_bert_recipes_build_either_head(tmp_path, model, head):
    from hydra.utils import instantiate

    from src.models.tiny import TinyBert

    small = dict(hidden_size=32, num_attention_heads=2, intermediate_size=64, num_hidden_layers=1)
    overrides = [f"model={model}"]
    if model != "tiny":
        tokenizer, local = TinyBert(**small).build(["a", "b"], ["نص للتجربة"] * 20)
        local.save_pretrained(tmp_path / "local")
        tokenizer.save_pretrained(tmp_path / "local")
        overrides += [f"model.name_or_path={tmp_path / 'local'}",
                      "+model.freeze_word_embeddings=true"]
    else:
        overrides += [f"model.{name}={value}" for name, value in small.items()]
    recipe = instantiate(make_cfg(tmp_path, *overrides).model)
    _, built = recipe.build(BIO_LABELS, ["نص للتجربة"] * 20, head=head)
    kind = "TokenClassification" if head == "token" else "SequenceClassification"
    assert type(built).__name__ == f"BertFor{kind}"
    assert built.config.id2label == dict(enumerate(BIO_LABELS))
    if model != "tiny":
        assert not built.get_input_embeddings().weight.requires_grad
    with pytest.raises(ValueError, match="head='tokens'"):
        recipe.build(BIO_LABELS, ["نص"], head="tokens")


def test_spans_outside_their_text_name_the_row():
    row = record(id="real-x", source="real", speaker_span=[40, 90], cue_span=None)
    data = DatasetDict({split: Dataset.from_list([row]) for split in ("train", "dev", "test")})
    with pytest.raises(DataError, match=r"train.jsonl: row id real-x: speaker_span \[40, 90\]"):
        annotated_splits(data, {"train": "train.jsonl"})


def test_statement_classifiers_cannot_tag(tmp_path, speaker_files):
    with pytest.raises(DataError, match="Me5EmbedLogReg classifies whole statements"):
        train(make_cfg(tmp_path, "model=me5_embed_lr", "task=all", *speaker_files))


@pytest.mark.parametrize("case", ["no span columns", "no real dev row", "tfidf"])
def test_speaker_task_errors_exit_2(tmp_path, case):
    folder = tmp_path / "data"
    spans = real_rows("x")
    rows = {"train": spans, "dev": spans, "test": spans}
    model = "model=tiny"
    if case == "no span columns":
        rows = {split: [record(id=f"real-{i}", source="real") for i in range(3)]
                for split in rows}
        expected = (f"{folder}/train.jsonl: task=speaker needs the columns speaker_span and "
                    "cue_span")
    elif case == "no real dev row":
        rows["dev"] = [record(id="authored-1")]
        expected = f"{folder}/dev.jsonl: no row of source real"
    else:
        model = "model=tfidf"
        expected = ("task=speaker: src.models.tfidf.TfidfLogReg classifies whole statements "
                    "and cannot tag tokens; use model=tiny, model=me5_small or any BERT")
    result = run_module("-m", "src.train", model, "task=speaker", *write_splits(folder, rows),
                        f"hydra.run.dir={tmp_path / 'run'}")
    assert result.returncode == 2
    assert f"error: {expected}" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_me5_small_builds_a_token_head_with_frozen_word_embeddings(tmp_path):
    from hydra.utils import instantiate

    from src.models import e5_conversion

    if not e5_conversion.is_complete(e5_conversion.default_out_dir()):
        pytest.skip("multilingual-e5-small is not converted yet (make setup)")
    recipe = instantiate(make_cfg(tmp_path, "model=me5_small").model)
    tokenizer, model = recipe.build(BIO_LABELS, [], head="token")
    assert type(model).__name__ == "BertForTokenClassification" and tokenizer.is_fast
    assert model.config.id2label == dict(enumerate(BIO_LABELS))
    assert not model.get_input_embeddings().weight.requires_grad


def groups_at(text: str, *found: tuple[str, str, float]) -> list[dict]:
    """Pipeline groups of (entity, phrase, score), each at the phrase's first occurrence."""
    return [{"entity_group": entity, "start": text.index(phrase),
             "end": text.index(phrase) + len(phrase), "score": score}
            for entity, phrase, score in found]


def said(text: str, span: Span | None) -> str | None:
    return None if span is None else text[span.start:span.end]


@pytest.mark.parametrize(("text", "speaker", "kept"), [
    ("وفككت اسبانيا في الاشهر الاخيرة عدة خلايا", "اسبانيا", False),
    ("استقبلت المستشارة الألمانية الرئيس الروسي فلاديمير بوتين", "فلاديمير بوتين", False),
    ("لافروف: لا حل عسكريا في سوريا", "لافروف", True),
    ("الأسد في خطابه أمس: الحديث عن حل سياسي", "الأسد", True),
    ("اعلنت وزارة الداخلية توقيف رجل", "وزارة الداخلية", True),  # a cue the tagger missed
])
def test_a_speaker_without_a_cue_needs_a_headline_colon_or_a_speech_word(text, speaker, kept):
    found = best_spans(groups_at(text, (SPEAKER, speaker, 0.8)), text)
    assert said(text, found.speaker) == (speaker if kept else None)


def test_a_speaker_in_the_content_of_the_cue_is_set_aside():
    text = "وأضافت الوكالة أن جيش الإسلام سلم كميات كبيرة من الأسلحة"
    groups = groups_at(text, (CUE, "وأضافت", 0.8), (SPEAKER, "الوكالة", 0.8),
                       (SPEAKER, "الإسلام", 0.9))
    assert said(text, best_spans(groups, text).speaker) == "الوكالة"


@pytest.mark.parametrize(("text", "tagged", "speaker"), [
    ("اعلنت وزارة الداخلية الاسبانية توقيف رجل", "وزارة الداخلية", "وزارة الداخلية الاسبانية"),
    ("وأوردت سانا نقلا عن المصدر ذاته أن", "المصدر", "المصدر ذاته"),
    ("وقال تلفزيون حزب الله الموالي لدمشق، إن المرحلة انتهت", "لدمشق", "تلفزيون حزب الله"),
    ("ونقلت صحيفة الوطن المقربة من الحكومة أن", "الحكومة", "صحيفة الوطن"),
    ("وقال الجيش السوري، إن", "الجيش", "الجيش السوري"),
    ("ووصف معالي وزير الخارجية لقاءه", "معالي وزير الخارجية", "وزير الخارجية"),
    ("وقال اللواء فيكتور كوبتشيشين إن", "اللواء فيكتور كوبتشيشين", "فيكتور كوبتشيشين"),
    ("وقال الجنرال الروسي إن", "الجنرال الروسي", "الجنرال الروسي"),
    ("وقال الفريق الطبي إن", "الفريق الطبي", "الفريق الطبي"),
])
def test_a_tagged_speaker_is_read_as_the_guidelines_phrase(text, tagged, speaker):
    cue = text.split()[0]
    found = best_spans(groups_at(text, (CUE, cue, 0.9), (SPEAKER, tagged, 0.8)), text)
    assert said(text, found.speaker) == speaker
