import pytest
from datasets import ClassLabel, load_dataset

from src.data.io import DataError
from src.data.loading import load_splits
from src.data.paths import DATA_DIR, SPLIT_FILES
from src.data.schema import SENTIMENTS, STANCES


def test_project_splits_load_with_class_labels():
    data = load_splits({s: str(p) for s, p in SPLIT_FILES.items()}, name="qawl",
                       labels={"stance": STANCES, "sentiment": SENTIMENTS})
    assert set(data) == {"train", "dev", "test"}
    assert data["train"].features["stance"] == ClassLabel(names=list(STANCES))
    assert data["test"].features["sentiment"].names == list(SENTIMENTS)
    assert data["train"].info.dataset_name == "qawl"
    assert sum(len(d) for d in data.values()) >= 800


def test_data_folder_loads_as_a_hub_dataset():
    data = load_dataset(str(DATA_DIR))
    assert data["train"].features["stance"].names == list(STANCES)
    assert data["dev"].features["sentiment"].names == list(SENTIMENTS)
    assert {name: len(d) for name, d in data.items()} == {
        split: sum(1 for line in path.open(encoding="utf-8") if line.strip())
        for split, path in SPLIT_FILES.items()}


@pytest.fixture
def table(tmp_path):
    rows = ["\ufefftweet,Stance,mood"]
    for i in range(40):
        stance = ("Favor", "Against", "None")[i % 3]
        mood = ("Positive", "Negative")[i % 2]
        rows.append(f"نص رقم {i} عن التحول الرقمي,{stance},{mood}")
    path = tmp_path / "mine.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_csv_with_column_mapping_values_and_split_fractions(table):
    data = load_splits({"train": str(table)}, text_column="tweet",
                       label_columns={"stance": "Stance", "sentiment": "mood"},
                       label_values={"stance": {"Favor": "favor", "Against": "against",
                                                "None": "none"}},
                       split_fractions={"dev": 0.25, "test": 0.25}, seed=1)
    assert [len(data[s]) for s in ("train", "dev", "test")] == [20, 10, 10]
    # "None" stays a label (pandas would read it as missing); labels sorted from train.
    assert data["train"].features["stance"].names == ["against", "favor", "none"]
    assert data["dev"].features["sentiment"].names == ["Negative", "Positive"]
    assert data["train"][0]["text"].startswith("نص رقم")
    again = load_splits({"train": str(table)}, text_column="tweet",
                        label_columns={"stance": "Stance"},
                        split_fractions={"dev": 0.25, "test": 0.25}, seed=1)
    assert again["test"]["text"] == data["test"]["text"]


def test_unknown_label_names_file_and_line(table):
    with pytest.raises(DataError, match=r"mine\.csv:2: unknown stance 'Favor'"):
        load_splits({"train": str(table)}, text_column="tweet",
                    label_columns={"stance": "Stance"},
                    labels={"stance": ["favor", "against", "none"]},
                    split_fractions={"dev": 0.25, "test": 0.25})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"text_column": "body"}, "missing column\\(s\\) body"),
        ({"text_column": "tweet"}, "no file for dev, test and no split fraction"),
    ],
)
def test_configuration_errors(table, kwargs, message):
    with pytest.raises(DataError, match=message):
        load_splits({"train": str(table)}, label_columns={"stance": "Stance"}, **kwargs)


def test_missing_train_file(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_splits({"train": str(tmp_path / "absent.jsonl")})


@pytest.mark.parametrize(("name", "content", "line"), [
    # a quoted text over two lines, then a blank line: the third row is on line 6
    ("multi.csv", 'text,stance\n"سطر أول\nوسطر ثان",none\n\nنص,none\nنص آخر,nonee\n', 6),
    ("gaps.jsonl", '{"text": "نص", "stance": "none"}\n\n\n{"text": "آخر", "stance": "nonee"}\n',
     4),
])
def test_messages_name_the_line_of_the_row(tmp_path, name, content, line):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=rf"{name}:{line}: unknown stance 'nonee'"):
        load_splits({"train": str(path)}, labels={"stance": ["none", "regime"]},
                    split_fractions={"dev": 0.25, "test": 0.25})
