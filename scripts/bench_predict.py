"""Sentences per second of our predict path against a hand-written transformers pipeline.

    python scripts/bench_predict.py [--models tiny,base] [--repeats 5] [--limit base=200]

For each model, one exported folder (config.json with Qawl's stance labels, model.safetensors,
the tokenizer and normalization.json, and the ONNX files of ``python -m src.export --onnx
--int8``) is built offline in a temporary folder and scored five ways, on the same statements,
in the same process:

  pipeline (default)   transformers.pipeline("text-classification", model=DIR)(texts)
  pipeline (batch 32)  the same pipeline called with batch_size=32
  ours (batch 32)      src.inference.loading.load_task_model(DIR).probabilities(texts, 32)
  ours onnx            the same with backend="onnx" (onnxruntime, fp32)
  ours onnx-int8       the same with backend="onnx-int8" (dynamically quantised)

The floor: the forward pass's multiply-adds on the statements' real token counts (no padding),
divided by this machine's matrix-multiply rate measured by a GEMM probe (torch.matmul, fp32, at
the shape of BERT's feed-forward layer on one batch); our fp32 path is reported as a fraction
of the sentences/s that rate would allow. Cold start (--cold-start): wall time of
`python -m src.predict --help`, and of predicting a 20-line file with the tiny model, against
`python -c "import torch, transformers"`, each run --repeats times in fresh processes.

The models have random weights: "tiny" is src.models.tiny.TinyBert built from the training
texts; "base" has BERT-base's shape (hidden 768, 12 layers, 12 heads, intermediate 3072) with a
WordPiece vocabulary learnt from the training texts and its embedding matrix padded to 30,000
rows. A random classifier gives every statement the same label, which would make the label check
empty, so its bias is set to minus the mean logits on 64 training texts and the predicted labels
vary from statement to statement (this costs nothing at prediction time).

The statements are those of data/qawl/*.jsonl (train, dev, test, in file order). The pipeline
is given the text our path sees after normalisation (ArabicNormalizer.load(DIR)), so labels are
comparable; that normalisation is done once, outside the pipeline's timings, while ours
normalises inside its call (it is part of the path). Timings are only meaningful on an
otherwise idle machine: with another process on one of two cores, torch's threads wait on each
other and every figure collapses; the 1-minute load average is printed at the start, before
each repetition and at the end.

Each configuration is warmed up with one call, then timed --repeats times; the order of the
configurations is shuffled in every repetition so that drift in the machine's load falls on all
of them alike. Prints the median and min–max sentences/s, the ratios of the medians, whether the
targets are met (ours >= 2.5x the default pipeline and >= 1.2x the batched one, at fp32, with
identical labels) and how often the predicted labels agree.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from src.data.io import read_jsonl  # noqa: E402
from src.data.paths import SPLIT_FILES  # noqa: E402
from src.data.schema import STANCES  # noqa: E402
from src.inference.loading import load_task_model, usable_cores  # noqa: E402
from src.text.normalization import ArabicNormalizer  # noqa: E402

BATCH = 32
TARGETS = {"pipeline (default)": 2.5, "pipeline (batch 32)": 1.2}
INT8_TARGETS = {"pipeline (default)": 7.0, "pipeline (batch 32)": 3.5}
FLOOR_TARGET = 0.75
BASE_SHAPE = {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
              "intermediate_size": 3072, "max_position_embeddings": 512}
BASE_VOCAB = 30000


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import transformers

    return (f"{cpu}, {os.cpu_count()} logical cores ({usable_cores()} usable), torch "
            f"{torch.__version__} ({torch.get_num_threads()} intra-op / "
            f"{torch.get_num_interop_threads()} inter-op threads), transformers "
            f"{transformers.__version__}, Python {platform.python_version()}")


def load_average() -> str:
    try:
        return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:
        return "unknown"


def centre_labels(model, tokenizer, texts: list[str]) -> None:
    """Set the classifier's bias to minus the mean logits on ``texts``. A randomly initialised
    BERT gives nearly the same logits to every input, hence one label for all statements and an
    empty label check; centred, its argmax follows the input. Costs nothing per statement."""
    with torch.inference_mode():
        batch = tokenizer(texts, padding=True, return_tensors="pt")
        logits = model(**batch).logits
        model.classifier.bias -= logits.mean(dim=0)


def build_model(kind: str, train_texts: list[str]):
    """(tokenizer, model) for the stance labels, random weights, the same on every call: "tiny"
    or "base" (see the module's description). bench_train.py trains the same models."""
    from transformers import BertConfig, BertForSequenceClassification

    from src.models.tiny import TinyBert, train_wordpiece

    torch.manual_seed(0)
    labels = list(STANCES)
    if kind == "tiny":
        return TinyBert().build(labels, train_texts)  # the project's own builder
    tokenizer = train_wordpiece(train_texts, BASE_VOCAB)
    # The texts are too few to fill a 30k vocabulary; padding the embedding matrix gives the
    # model BERT-base's size, and its optimizer work in training (AdamW updates every row); the
    # extra rows are never looked up, so cost nothing per token.
    config = BertConfig(vocab_size=max(BASE_VOCAB, len(tokenizer)), **BASE_SHAPE,
                        num_labels=len(labels), id2label=dict(enumerate(labels)),
                        label2id={label: i for i, label in enumerate(labels)})
    return tokenizer, BertForSequenceClassification(config)


def build_folder(kind: str, train_texts: list[str], folder: Path,
                 trained: Path | None = None) -> None:
    """An exported stance model folder, as training writes it, with random weights (or a copy
    of ``trained``), and its ONNX files."""
    from src.inference.onnx_export import export_onnx

    if trained is not None:
        shutil.copytree(trained, folder, dirs_exist_ok=True)
        shutil.rmtree(folder / "onnx", ignore_errors=True)
        export_onnx(folder, int8=True)
        return
    tokenizer, model = build_model(kind, train_texts)
    model.eval()
    centre_labels(model, tokenizer, train_texts[:64])
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    ArabicNormalizer().save(folder)
    export_onnx(folder, int8=True)


def statements(records: dict[str, list[dict]], limit: int | None,
               repeat: int) -> tuple[list[str], list[str]]:
    """The texts of all splits in file order, the first ``limit`` of them ``repeat`` times over,
    and the split of each."""
    rows = [(split, r["text"]) for split, split_records in records.items()
            for r in split_records][:limit] * repeat
    return [text for _, text in rows], [split for split, _ in rows]


def parse_limits(value: str | None, models: list[str]) -> dict[str, int | None]:
    """``200`` (every model) or ``base=200,tiny=0`` (per model; 0 means all statements)."""
    limits: dict[str, int | None] = dict.fromkeys(models)
    if not value:
        return limits
    for part in value.split(","):
        name, _, number = part.rpartition("=")
        for model in [name] if name else models:
            if model not in limits:
                raise SystemExit(f"--limit {value}: {model!r} is not among --models")
            limits[model] = int(number) or None
    return limits


def summary(values: list[float]) -> str:
    return f"{statistics.median(values):8.1f}  ({min(values):.1f}–{max(values):.1f})"


def agreement(labels: list[str], others: list[str]) -> float:
    """Percentage of positions where the two label lists agree."""
    return 100 * np.mean([a == b for a, b in zip(labels, others, strict=True)])


def forward_flops(config, length: int) -> float:
    """Multiply-adds x 2 of one BERT forward pass over ``length`` tokens: the projections, the
    feed-forward layers and the attention products; embeddings and softmax are lookups and
    element-wise work, left out."""
    h, inner, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    per_layer = 4 * length * h * h + 2 * length * h * inner + 2 * length * length * h
    head = h * h + h * config.num_labels  # pooler and classifier, on [CLS] only
    return 2.0 * (layers * per_layer + head)


def gemm_probe(config, tokens: int, repeats: int = 20) -> tuple[float, str]:
    """Best fp32 GFLOP/s of torch.matmul at the feed-forward layer's shape for ``tokens``
    tokens (a batch of the benchmark): what this machine's matrix units deliver to BERT."""
    a = torch.randn(tokens, config.hidden_size)
    b = torch.randn(config.hidden_size, config.intermediate_size)
    flops = 2.0 * tokens * config.hidden_size * config.intermediate_size
    best = float("inf")
    with torch.inference_mode():
        for _ in range(3):
            torch.matmul(a, b)
        for _ in range(repeats):
            started = time.perf_counter()
            torch.matmul(a, b)
            best = min(best, time.perf_counter() - started)
    return flops / best / 1e9, f"{tokens}x{config.hidden_size} @ {config.hidden_size}x" \
                               f"{config.intermediate_size}"


def floor_rate(config, lengths: list[int]) -> dict:
    gflop = sum(forward_flops(config, n) for n in lengths) / 1e9
    tokens = BATCH * round(statistics.mean(lengths))
    gflops, shape = gemm_probe(config, tokens)
    return {"gflop": gflop, "gflops": gflops, "shape": shape,
            "rate": len(lengths) / (gflop / gflops)}


def bench_model(kind: str, train_texts: list[str], texts: list[str], splits: list[str],
                repeats: int, seed: int, trained: Path | None = None) -> dict:
    from transformers import pipeline
    from transformers.utils import logging

    logging.disable_progress_bar()
    with tempfile.TemporaryDirectory(prefix=f"bench-{kind}-") as name:
        folder = Path(name)
        build_folder(kind, train_texts, folder, trained)
        ours = load_task_model(folder)
        onnx = load_task_model(folder, backend="onnx")
        int8 = load_task_model(folder, backend="onnx-int8")
        pipe = pipeline("text-classification", model=str(folder))
        normalise = ours.normalizer  # the folder's normalization.json
        prepared = [normalise(t) for t in texts]  # what our path feeds its tokenizer

        lengths = ours.token_lengths(texts)
        n_params = sum(p.numel() for p in ours.model.parameters())
        weights = f"trained ({trained})" if trained else "random weights"
        print(f"\n== {kind}, {weights}: {ours.model.config.num_hidden_layers} layers, hidden "
              f"{ours.model.config.hidden_size}, vocabulary {ours.model.config.vocab_size} "
              f"({len(ours.tokenizer)} learnt), {n_params / 1e6:.1f}M parameters")
        print(f"   ours: {type(ours.tokenizer).__name__}, {ours.model.dtype}, on "
              f"{ours.model.device}; pipeline: {type(pipe.tokenizer).__name__}, "
              f"{pipe.model.dtype}, on {pipe.device}")
        print(f"   {len(texts)} statements, {statistics.mean(lengths):.1f} tokens on average "
              f"(min {min(lengths)}, max {max(lengths)})")

        def predict(model):
            return lambda xs: [model.labels[i] for i in
                               model.probabilities(xs, BATCH).argmax(axis=1)]

        configs = {
            "pipeline (default)": lambda xs: [r["label"] for r in pipe(xs)],
            "pipeline (batch 32)": lambda xs: [r["label"] for r in pipe(xs, batch_size=BATCH)],
            "ours (batch 32)": predict(ours),
            "ours onnx": predict(onnx),
            "ours onnx-int8": predict(int8),
        }
        inputs = {name: prepared if name.startswith("pipeline") else texts for name in configs}
        warm = min(len(texts), 64)
        for name, run in configs.items():  # warm-up: allocators, kernels, lazy imports
            run(inputs[name][:warm])

        rng = random.Random(seed)
        rates: dict[str, list[float]] = {name: [] for name in configs}
        labels: dict[str, list[str]] = {}
        loads = []
        for _ in range(repeats):
            loads.append(os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan"))
            order = list(configs)
            rng.shuffle(order)
            for name in order:
                started = time.perf_counter()
                predicted = configs[name](inputs[name])
                rates[name].append(len(texts) / (time.perf_counter() - started))
                if labels.setdefault(name, predicted) != predicted:
                    print(f"   note: {name} predicted differently between repetitions")

        # Untimed: the probabilities themselves, and where our path spends its time.
        ours_scores = ours.probabilities(texts, BATCH)
        pipe_scores = np.array([[d["score"] for d in sorted(r, key=lambda d: ours.labels.index(
            d["label"]))] for r in pipe(prepared, batch_size=BATCH, top_k=None)])
        started = time.perf_counter()
        ours.tokenizer([normalise(t) for t in texts])
        prep_seconds = time.perf_counter() - started

        print(f"   {warm}-statement warm-up per configuration, then {repeats} timed "
              "repetitions in shuffled order; 1-minute load average before each: "
              f"{min(loads):.2f}–{max(loads):.2f}")
        print(f"   {'configuration':<22}{'sentences/s: median':>20}  (min–max)")
        medians = {name: statistics.median(values) for name, values in rates.items()}
        for name, values in rates.items():
            print(f"   {name:<22}{summary(values):>34}")
        result = {"medians": medians, "n": len(texts)}

        def compare(ours_name: str, targets: dict, identical: bool) -> None:
            for name, target in targets.items():
                ratio = medians[ours_name] / medians[name]
                agree = agreement(labels[ours_name], labels[name])
                met = "met" if ratio >= target and (agree == 100 or not identical) else "MISSED"
                print(f"   {ours_name} / {name:<20} {ratio:5.2f}x  (target >= {target}x: "
                      f"{met}); labels agree on {agree:.1f}% of statements")
                result[ours_name, name] = (ratio, met)

        compare("ours (batch 32)", TARGETS, identical=True)
        compare("ours onnx-int8", INT8_TARGETS, identical=False)
        test = [i for i, split in enumerate(splits) if split == "test"]
        reference = labels["ours (batch 32)"]
        for name in ("ours onnx", "ours onnx-int8"):
            agree = agreement(labels[name], reference)
            on_test = agreement([labels[name][i] for i in test],
                                [reference[i] for i in test]) if test else float("nan")
            print(f"   {name}: labels agree with our fp32 torch path on {agree:.1f}% of "
                  f"statements ({on_test:.1f}% of the {len(test)} of the test split)")
        floor = floor_rate(ours.model.config, lengths)
        fraction = medians["ours (batch 32)"] / floor["rate"]
        print(f"   floor: {floor['gflop'] / len(texts):.2f} GFLOP per statement on the real "
              f"token counts; GEMM probe {floor['gflops']:.1f} GFLOP/s (fp32, "
              f"{floor['shape']}) -> {floor['rate']:.1f} sentences/s at best")
        print(f"   ours fp32 reaches {fraction:.2f} of the floor (target >= {FLOOR_TARGET}: "
              f"{'met' if fraction >= FLOOR_TARGET else 'MISSED'}); onnx fp32 "
              f"{medians['ours onnx'] / floor['rate']:.2f}")
        result["floor"] = fraction
        spread = Counter(reference)
        print(f"   predicted labels (ours): {dict(spread)}; largest probability difference, "
              f"ours vs pipeline (batch 32): {np.abs(ours_scores - pipe_scores).max():.1e}")
        share = prep_seconds / (len(texts) / medians["ours (batch 32)"])
        print(f"   of ours: normalising + tokenising took {prep_seconds * 1000:.0f} ms "
              f"({100 * share:.0f}% of its median time)")
        return result


def cold_start(repeats: int, train_texts: list[str], test_records: list[dict]) -> None:
    """Wall time of fresh processes, as a user at a shell sees it."""
    with tempfile.TemporaryDirectory(prefix="bench-cold-") as name:
        folder = Path(name) / "stance"
        build_folder("tiny", train_texts, folder)
        lines = Path(name) / "twenty.txt"
        lines.write_text("\n".join(r["text"] for r in test_records[:20]))
        predict = [sys.executable, "-m", "src.predict", "--lines", "--format", "jsonl",
                   "--model", str(folder), str(lines)]
        commands = {
            "python -c 'import torch, transformers'":
                [sys.executable, "-c", "import torch, transformers"],
            "python -m src.predict --help": [sys.executable, "-m", "src.predict", "--help"],
            "predict 20 lines, tiny, torch": predict,
            "predict 20 lines, tiny, onnx-int8": [*predict, "--backend", "onnx-int8"],
        }
        print(f"\n== cold start: fresh processes, {repeats} runs each, wall seconds")
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        for label, command in commands.items():
            seconds = []
            for _ in range(repeats):
                started = time.perf_counter()
                subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)
                seconds.append(time.perf_counter() - started)
            print(f"   {label:<40} median {statistics.median(seconds):6.2f} s  "
                  f"({min(seconds):.2f}–{max(seconds):.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="tiny,base", help="comma-separated: tiny, base")
    parser.add_argument("--repeats", type=int, default=5, help="timed repetitions (>= 1)")
    parser.add_argument("--limit", help="use the first N statements: N for every model, or per "
                                        "model as base=200,tiny=0 (0: all)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="score the (limited) statements this many times over")
    parser.add_argument("--threads", type=int,
                        help="torch.set_num_threads before anything runs (default: torch's own)")
    parser.add_argument("--seed", type=int, default=0, help="for the order of configurations")
    parser.add_argument("--tiny-run", type=Path,
                        help="a trained run (python -m src.train model=tiny): its stance model "
                             "is the tiny model, so label agreement is that of a trained model")
    parser.add_argument("--cold-start", action="store_true",
                        help="also time fresh processes: --help, a 20-line prediction, imports")
    args = parser.parse_args()
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    if unknown := [m for m in models if m not in ("tiny", "base")]:
        parser.error(f"--models: unknown {', '.join(unknown)} (tiny, base)")
    if args.repeats < 1 or args.repeat < 1:
        parser.error("--repeats and --repeat must be >= 1")
    limits = parse_limits(args.limit, models)
    if args.threads:
        torch.set_num_threads(args.threads)

    records = {split: read_jsonl(path) for split, path in SPLIT_FILES.items()}
    normalise = ArabicNormalizer()
    train_texts = [normalise(r["text"]) for r in records["train"]]
    print(f"machine: {machine()}")
    print(f"load average at start: {load_average()}")
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print("targets (fp32, identical labels): ours >= 2.5x pipeline (default) and >= 1.2x "
          "pipeline (batch 32), sentences/s medians of the same run")
    print("reference (where the targets come from; BERT-base-shaped, 2-core machine): ~15 "
          "sentences/s default pipeline, 31–36 with batch_size=32, 40–44 length-sorted under "
          "inference_mode")
    results = {}
    for kind in models:
        texts, splits = statements(records, limits[kind], args.repeat)
        trained = args.tiny_run / "stance" if kind == "tiny" and args.tiny_run else None
        results[kind] = bench_model(kind, train_texts, texts, splits, args.repeats, args.seed,
                                    trained)

    print("\nsummary (sentences/s, medians)")
    for kind, result in results.items():
        medians = result["medians"]
        cells = "  ".join(f"{name} {value:.1f}" for name, value in medians.items())
        print(f"  {kind} ({result['n']} statements): {cells}")
        for ours_name, targets in (("ours (batch 32)", TARGETS), ("ours onnx-int8", INT8_TARGETS)):
            ratios = "  ".join(f"vs {name}: {result[ours_name, name][0]:.2f}x "
                               f"{result[ours_name, name][1]}" for name in targets)
            print(f"    {ours_name}: {ratios}")
        print(f"    ours fp32 / floor: {result['floor']:.2f}")
    if args.cold_start:
        cold_start(args.repeats, train_texts, records["test"])
    print(f"load average at end: {load_average()}")


if __name__ == "__main__":
    main()
