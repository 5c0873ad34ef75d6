"""Data that would train or score a model wrongly is refused before any training: a label column
of one class, texts shared by train and dev or test, unreadable files and config mistakes are
each one ``error:`` line."""

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import OmegaConf
from omegaconf.errors import ConfigKeyError, ValidationError

from src.core.errors import InputError, reported, user_error
from src.data.io import read_numbered_jsonl
from src.data.loading import load_splits
from src.data.paths import SPLIT_FILES
from src.inference.statements import read_text
from tests.conftest import SMOKE, make_cfg, record, run_module

FRACTIONS = {"dev": 0.2, "test": 0.2}


def statement(i: int) -> str:
    return f"قال الوزير إن الاتفاق رقم {i} سيطبق في موعده"


def write_table(path: Path, rows: list[str], header: str = "text,stance") -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def one_error(capsys, function, *args, **kwargs) -> str:
    """The one ``error:`` line that ``function`` reports under the commands' wrapper."""
    assert reported(function)(*args, **kwargs) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err


# --- 1. a label column of fewer than two classes --------------------------------------------


@pytest.mark.parametrize("labels", [None, {"stance": ["favor"]}])
def test_one_class_label_column_is_refused(tmp_path, capsys, labels):
    path = write_table(tmp_path / "one.csv", [f"{statement(i)},favor" for i in range(20)],
                       header="text,label")
    err = one_error(capsys, load_splits, {"train": str(path)}, label_columns={"stance": "label"},
                    labels=labels, split_fractions=FRACTIONS)
    assert str(path) in err and "column 'label'" in err and "expected at least 2" in err
    assert ("data.labels.stance: 1 label (favor)" if labels else "has 1 class (favor) in train"
            ) in err


def test_no_label_at_all_is_refused(tmp_path, capsys):
    path = write_table(tmp_path / "mine.csv", [f"{statement(i)},favor" for i in range(4)])
    err = one_error(capsys, load_splits, {"train": str(path)}, labels={"stance": []},
                    split_fractions=FRACTIONS)
    assert f"data.labels.stance: 0 labels for column 'stance' of {path}" in err
    assert "expected at least 2" in err


@pytest.mark.slow  # a training command in a subprocess
def test_train_command_exits_2_on_a_one_class_column(tmp_path):
    rows = [f"{statement(i)},favor,{('positive', 'negative')[i % 2]}" for i in range(20)]
    path = write_table(tmp_path / "F.csv", rows, header="text,stance,sentiment")
    result = run_module("-m", "src.train", "model=tfidf", "data=table",
                        f"data.files.train={path}", f"hydra.run.dir={tmp_path / 'run'}")
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [f"error: {path}: column 'stance' has 1 class (favor) in train; expected "
                      "at least 2 to tell apart"]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "run" / "stance").exists()


# --- 2. texts shared by train and dev/test ------------------------------------------------


@pytest.fixture
def copied(tmp_path):
    """A train table, and a test table whose rows 1 and 3 are train rows 6 and 2 with a
    diacritic, a tatweel and doubled spaces added."""
    train = write_table(tmp_path / "train.csv",
                        [f"{statement(i)},{('favor', 'against')[i % 2]}" for i in range(1, 21)])
    copies = ["قَال الوزير إن الاتفاق رقم 6  سيطبق في موعده,favor",
              f"{statement(40)},against",
              "قال الوزير إن الاتفـاق رقم 2 سيطبق في موعده ,favor",
              f"{statement(41)},favor"]
    fresh = [f"{statement(i)},{('favor', 'against')[i % 2]}" for i in range(50, 54)]
    return train, write_table(tmp_path / "test.csv", copies), write_table(tmp_path / "new.csv",
                                                                          fresh)


@pytest.mark.parametrize("split", ["test", "dev"])
def test_texts_shared_with_train_are_refused(copied, capsys, split):
    train, other, fresh = copied
    files = {"train": str(train), "dev": str(fresh), "test": str(fresh), split: str(other)}
    err = one_error(capsys, load_splits, files)
    assert f"{split} shares 2 texts with train" in err
    assert f"{other}:2 = {train}:7" in err and f"{other}:4 = {train}:3" in err
    assert "data.allow_overlap=true" in err


def test_allow_overlap_goes_on_with_a_warning(copied, capsys):
    train, test, fresh = copied
    data = load_splits({"train": str(train), "dev": str(fresh), "test": str(test)},
                       allow_overlap=True)
    assert len(data["test"]) == 4
    err = capsys.readouterr().err
    assert err.startswith("warning: ") and "test shares 2 texts with train" in err
    assert data["train"].column_names == ["text", "stance"]


def test_copies_in_one_file_are_refused_when_the_splits_are_cut_from_it(tmp_path, capsys):
    rows = [f"{statement(i % 20)},{('favor', 'against')[i % 2]}" for i in range(40)]
    path = write_table(tmp_path / "twice.csv", rows)
    err = one_error(capsys, load_splits, {"train": str(path)}, split_fractions=FRACTIONS, seed=3)
    assert "texts with train" in err and f"{path}:" in err


def test_project_splits_share_only_clutter(tmp_path, write_jsonl, capsys):
    train = [json.loads(line) for line in SPLIT_FILES["train"].open(encoding="utf-8")]
    clutter = next(r for r in train if r.get("clutter"))
    leaked = next(r for r in train if r["source"] == "authored")
    test = write_jsonl("test.jsonl", [dict(clutter, split="test"), dict(leaked, split="test")])
    dev = write_jsonl("dev.jsonl", [record(id="new-1", text="نص جديد", split="dev")])
    cfg = make_cfg(tmp_path, f"data.files.test={test}", f"data.files.dev={dev}")
    assert cfg.data.allow_overlap is False
    err = one_error(capsys, instantiate, cfg.data, _convert_="all")
    # Web clutter repeats across articles by design: it does not count as a shared text.
    assert f"error: test shares 1 text with train ({test}:2 = {SPLIT_FILES['train']}:" in err


def test_table_config_refuses_overlap_by_default(tmp_path):
    assert make_cfg(tmp_path, "data=table").data.allow_overlap is False


# --- 4. unreadable training files and config mistakes -------------------------------------


def test_malformed_jsonl_line_names_file_and_line(write_jsonl, capsys):
    path = write_jsonl("train.jsonl", [record(), "{broken", record(id="a-2", text="نص آخر")])
    err = one_error(capsys, load_splits, {"train": str(path)}, split_fractions=FRACTIONS)
    assert f"error: {path}:2: not valid JSON" in err


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_empty_training_file_says_it_is_empty(tmp_path, capsys, suffix):
    path = tmp_path / f"train{suffix}"
    path.write_text("\n", encoding="utf-8")
    err = one_error(capsys, load_splits, {"train": str(path)}, split_fractions=FRACTIONS)
    assert f"error: {path}: the file is empty" in err


def test_header_without_rows_is_empty_too(tmp_path, capsys):
    path = write_table(tmp_path / "train.csv", [])
    err = one_error(capsys, load_splits, {"train": str(path)}, split_fractions=FRACTIONS)
    assert f"error: {path}: no rows" in err


@pytest.mark.parametrize(("labels", "expected"), [
    ({"stance": ["favor", "against"]}, "unknown stance 'favr' (expected one of favor, against)"),
    ({"stance": ["favor", "against", "favr"]}, "stance 'favr' is on this row only"),
    (None, "stance 'favr' is on this row only"),
])
def test_typo_in_a_label_names_its_line(tmp_path, capsys, labels, expected):
    rows = [f"{statement(i)},{('favor', 'against')[i % 2]}" for i in range(30)]
    rows[6] = f"{statement(6)},favr"
    path = write_table(tmp_path / "typo.csv", rows)
    err = one_error(capsys, load_splits, {"train": str(path)}, labels=labels,
                    split_fractions=FRACTIONS)
    assert f"error: {path}:8: {expected}" in err


def test_table_without_a_train_file_is_one_line(tmp_path, capsys):
    err = one_error(capsys, instantiate, make_cfg(tmp_path, "data=table").data)
    assert err.startswith("error: data.files.train: no value") and "data.files.train=" in err


@dataclass
class Typed:
    n: int = 1


@pytest.mark.parametrize(("mistake", "key"), [
    (lambda cfg: cfg.merge_with({"m": 2}), "m"),
    (lambda cfg: setattr(cfg, "n", "many"), "n"),
])
def test_config_errors_inside_instantiate_are_user_errors(mistake, key):
    cfg = OmegaConf.structured(Typed)
    with pytest.raises((ConfigKeyError, ValidationError)) as caught:
        mistake(cfg)
    wrapped = InstantiationException("Error in call to target")
    wrapped.__cause__ = caught.value
    found = user_error(wrapped)
    assert found is not None and "\n" not in str(found) and str(found).startswith(f"{key}: ")
    assert user_error(ValueError("a bug")) is None


def test_line_separators_inside_texts_are_read_back(write_jsonl):
    # json.dumps(ensure_ascii=False), as src.data.io.write_jsonl writes, leaves them unescaped.
    rows = [record(text="قال الوزير\u2028إن الاتفاق\x85صامد"), record(id="a-2", text="نص")]
    assert read_numbered_jsonl(write_jsonl("rows.jsonl", rows)) == [(1, rows[0]), (2, rows[1])]


# --- 5. NUL bytes in an article -----------------------------------------------------------


def test_nul_byte_anywhere_is_binary(tmp_path, capsys):
    path = tmp_path / "article.txt"
    path.write_bytes("قال الوزير إن الاتفاق صامد.\n".encode() * 500 + b"\x00tail")
    err = one_error(capsys, read_text, str(path), "utf-8")
    assert f"error: {path}: looks like a binary file (expected utf-8 text)" in err
    with pytest.raises(InputError, match="binary"):
        read_text(str(path), "cp1256")


def test_utf16_text_is_not_binary(tmp_path):
    path = tmp_path / "article.txt"
    path.write_bytes("قال الوزير: «الاتفاق صامد».\n".encode("utf-16"))
    assert read_text(str(path), "utf-16") == "قال الوزير: «الاتفاق صامد».\n"


# --- 6. a trained task of one class; trainer arguments that are not numbers --------------


def one_class_splits(write_jsonl, **columns) -> list[str]:
    """The project's data config on files whose train split has one stance class."""
    files = []
    for split in ("train", "dev", "test"):
        rows = [record(id=f"{split}-{i}", text=f"{statement(i)} في {split}", split=split,
                       stance="none" if split == "train" else ("none", "regime")[i % 2],
                       sentiment=("positive", "negative")[i % 2], **columns)
                for i in range(12)]
        files.append(f"data.files.{split}={write_jsonl(f'{split}.jsonl', rows)}")
    return files


def test_a_trained_task_of_one_class_in_train_is_refused(tmp_path, write_jsonl, capsys):
    from src.train import train

    files = one_class_splits(write_jsonl)
    # data.labels names four stances, so the loader cannot tell; training stance can.
    err = one_error(capsys, train, make_cfg(tmp_path / "stance", "model=tfidf", *files))
    assert err == (f"error: {tmp_path / 'train.jsonl'}: task stance has 1 class (none) in "
                   "train, of regime, russia, opposition, none; expected at least 2 to train "
                   "a classifier\n")
    assert not (tmp_path / "stance").exists()
    metrics = train(make_cfg(tmp_path / "sentiment", "model=tfidf", "task=sentiment", *files))
    assert set(metrics) == {"sentiment"}


def test_the_speaker_task_trains_on_data_of_one_stance_class(tmp_path, write_jsonl):
    from src.train import train

    text = "قال المتحدث باسم الكرملين دميتري بيسكوف إن موسكو ترحب بالاتفاق"
    spans = {"source": "real", "speaker_span": [26, 39], "cue_span": [0, 3]}
    assert text[26:39] == "دميتري بيسكوف"
    files = []
    for split in ("train", "dev", "test"):
        rows = [record(id=f"{split}-{i}", text=text, split=split, **spans) for i in range(4)]
        files.append(f"data.files.{split}={write_jsonl(f'{split}.jsonl', rows)}")
    metrics = train(make_cfg(tmp_path / "run", "model=tiny", "task=speaker",
                             "data.allow_overlap=true", "+trainer.args.max_steps=1", *files))
    assert set(metrics) == {"speaker"}


@pytest.mark.parametrize(("override", "expected"), [
    ("trainer.args.learning_rate=abc", "trainer.args.learning_rate=abc: expected a number"),
    ("trainer.args.learning_rate=true", "trainer.args.learning_rate=true: expected a number"),
    ("trainer.args.per_device_train_batch_size=1.5",
     "trainer.args.per_device_train_batch_size=1.5: expected a whole number"),
    ("trainer.args.save_total_limit=two",
     "trainer.args.save_total_limit=two: expected a whole number or null"),
])
def test_a_trainer_argument_that_is_not_a_number_is_refused(tmp_path, capsys, override,
                                                           expected):
    from src.train import train

    err = one_error(capsys, train, make_cfg(tmp_path, *SMOKE, override))
    assert err == f"error: {expected}\n"


def test_numbers_and_nulls_where_the_trainer_takes_them_are_fine():
    from src.models.recipe import check_training_args

    check_training_args(OmegaConf.create({"_target_": "transformers.TrainingArguments",
                                          "learning_rate": 1, "num_train_epochs": 2.5,
                                          "save_total_limit": None, "eval_strategy": "epoch"}))


@pytest.mark.slow  # the command in a subprocess
def test_train_command_exits_2_on_a_learning_rate_that_is_not_a_number(tmp_path):
    result = run_module("-m", "src.train", *SMOKE, "trainer.args.learning_rate=abc",
                        f"hydra.run.dir={tmp_path / 'run'}")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert [line for line in result.stderr.splitlines() if line.startswith("error: ")] == [
        "error: trainer.args.learning_rate=abc: expected a number"]
