"""Seconds per training epoch on the project's train split at the default recipe: fp32 and bf16
autocast, each with dynamic padding and padded to max_length.

    python scripts/bench_train.py [--models tiny,base] [--repeats 5] [--device cpu|cuda]
                                  [--configs fp32-dynamic,bf16-dynamic,...] [--steps K]

An epoch is what `python -m src.train` does with configs/trainer/default.yaml (max_length, batch
sizes, learning rate, weight decay, warm-up and epochs are read from it): the 596 statements of
data/qawl/train.jsonl, normalised with ArabicNormalizer(), tokenised with truncation at
max_length, shuffled with a fixed seed (every run of every configuration sees the same batches),
then per batch: collation, forward, backward, gradient clipping at norm 1, a fused AdamW update
(no weight decay on biases and LayerNorm) and the linear warm-up schedule, as the Trainer does.
Each epoch is followed, as with eval_strategy: epoch, by a pass over data/qawl/dev.jsonl in
inference_mode at per_device_eval_batch_size, timed on its own.

Configurations (--configs picks a subset, in any order):

  fp32-dynamic      fp32, each batch padded to its longest statement (DataCollatorWithPadding,
                    the recipe's collator)
  bf16-dynamic      the same under torch.autocast(device, torch.bfloat16) (trainer.args.bf16)
  fp32-pad-to-max   fp32, every batch padded to max_length
  bf16-pad-to-max   bf16 autocast, padded to max_length

Models, with random weights and no download: "tiny" is src.models.tiny.TinyBert's; "base" has
BERT-base's (CAMeLBERT's) shape (hidden 768, 12 layers, 12 heads, intermediate 3072) with its
embedding matrix padded to 30,000 rows. Both tokenise with a WordPiece vocabulary learnt from the
training texts; CAMeLBERT's own tokenizer splits differently, so its padded lengths, hence its
times with dynamic padding, differ somewhat.

Each configuration first runs a few untimed steps (--warmup), then --repeats epochs, each from a
fresh copy of the same initial weights and a new optimizer; the order of the configurations is
shuffled in every repetition so that drift in the machine's load falls on all of them alike. On
CUDA the clock is read after torch.cuda.synchronize(). Prints median and min–max seconds per
epoch, the speed-ups (target: bf16-dynamic >= 2x fp32-pad-to-max) and, from the base model's
fastest configuration, the time of a CAMeLBERT fine-tune with the default recipe.

--steps K times only the first K batches of each epoch and extrapolates to the whole epoch
(seconds of K steps x steps per epoch / K): BERT-base takes ~37 s per fp32 step on a 2-core AVX2
CPU, where bf16 is emulated (~16x slower than fp32); skip it there with --configs.
"""

from __future__ import annotations

import argparse
import copy
import random
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

import torch  # noqa: E402
from bench_predict import build_model, load_average, machine  # noqa: E402

from src.data.io import read_jsonl  # noqa: E402
from src.data.paths import SPLIT_FILES  # noqa: E402
from src.data.schema import STANCES  # noqa: E402
from src.text.normalization import ArabicNormalizer  # noqa: E402

RECIPE = ROOT / "configs" / "trainer" / "default.yaml"
TARGET = 2.0  # bf16-dynamic over fp32-pad-to-max, seconds per epoch


@dataclass(frozen=True)
class Config:
    name: str
    bf16: bool
    pad_to_max: bool


CONFIGS = {c.name: c for c in (Config("fp32-dynamic", False, False),
                               Config("bf16-dynamic", True, False),
                               Config("fp32-pad-to-max", False, True),
                               Config("bf16-pad-to-max", True, True))}


@dataclass(frozen=True)
class Recipe:
    """The recipe's max_length and the TrainingArguments that `python -m src.train` builds from
    it, so what the file leaves out takes the Trainer's own defaults."""

    max_length: int
    args: object  # transformers.TrainingArguments

    @classmethod
    def load(cls, path: Path = RECIPE) -> Recipe:
        from hydra.utils import instantiate
        from omegaconf import OmegaConf

        trainer = OmegaConf.load(path)
        return cls(max_length=int(trainer.max_length), args=instantiate(trainer.args)())

    @property
    def batch(self) -> int:
        return self.args.per_device_train_batch_size

    @property
    def eval_batch(self) -> int:
        return self.args.per_device_eval_batch_size

    @property
    def epochs(self) -> int:
        return int(self.args.num_train_epochs)


@dataclass(frozen=True)
class Split:
    """A split's statements, normalised as training does, and their stance ids."""

    texts: list[str]
    labels: list[int]

    @classmethod
    def of(cls, records: list[dict]) -> Split:
        normalise = ArabicNormalizer()
        return cls([normalise(r["text"]) for r in records],
                   [STANCES.index(r["stance"]) for r in records])


def encode(tokenizer, split: Split, max_length: int) -> list[dict]:
    """One feature dict per statement, as the recipe's Dataset holds them."""
    encoded = tokenizer(split.texts, truncation=True, max_length=max_length)
    return [{**{name: encoded[name][i] for name in encoded}, "labels": label}
            for i, label in enumerate(split.labels)]


def batches(features: list[dict], size: int, seed: int | None) -> list[list[dict]]:
    order = list(range(len(features)))
    if seed is not None:
        random.Random(seed).shuffle(order)
    return [[features[i] for i in order[start:start + size]]
            for start in range(0, len(order), size)]


def padded_positions(batches_: list[list[dict]], pad_to: int | None) -> int:
    return sum(len(b) * (pad_to or max(len(f["input_ids"]) for f in b)) for b in batches_)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def native_bf16(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def optimizer_for(model, args, total_steps: int):
    """The optimizer and schedule the Trainer builds from ``args`` (TrainingArguments)."""
    from transformers import Trainer, get_scheduler

    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        (no_decay if name.endswith("bias") or "LayerNorm" in name else decay).append(parameter)
    optimizer_cls, kwargs = Trainer.get_optimizer_cls_and_kwargs(args, model)
    optimizer = optimizer_cls([{"params": decay, "weight_decay": args.weight_decay},
                               {"params": no_decay, "weight_decay": 0.0}], **kwargs)
    scheduler = get_scheduler(args.lr_scheduler_type, optimizer,
                              num_warmup_steps=args.get_warmup_steps(total_steps),
                              num_training_steps=total_steps,
                              scheduler_specific_kwargs=args.lr_scheduler_kwargs)
    return optimizer, scheduler


class Bench:
    """One model on one device: its initial weights, train batches and dev batches."""

    def __init__(self, model, tokenizer, train: list[dict], dev: list[dict], recipe: Recipe,
                 max_length: int, device: torch.device, seed: int):
        from transformers import DataCollatorWithPadding

        self.model = model.to(device)
        self.initial = copy.deepcopy(model.state_dict())
        self.recipe, self.device = recipe, device
        self.train = batches(train, recipe.batch, seed)
        self.dev = batches(dev, recipe.eval_batch, None)
        self.collators = {
            False: DataCollatorWithPadding(tokenizer),
            True: DataCollatorWithPadding(tokenizer, padding="max_length",
                                          max_length=max_length),
        }

    def inputs(self, features: list[dict], config: Config) -> dict:
        batch = self.collators[config.pad_to_max](features)
        return {name: tensor.to(self.device) for name, tensor in batch.items()}

    def autocast(self, config: Config):
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=config.bf16)

    def train_steps(self, config: Config, steps: int) -> float:
        """Seconds for the first ``steps`` batches of an epoch, from the initial weights."""
        self.model.load_state_dict(self.initial)
        self.model.train()
        total = len(self.train) * self.recipe.epochs
        optimizer, scheduler = optimizer_for(self.model, self.recipe.args, total)
        synchronize(self.device)
        started = time.perf_counter()
        for features in self.train[:steps]:
            batch = self.inputs(features, config)
            with self.autocast(config):
                loss = self.model(**batch).loss
            loss.backward()  # outside autocast, as the Trainer (accelerate) does
            torch.nn.utils.clip_grad_norm_(self.model.parameters(),
                                           self.recipe.args.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
        synchronize(self.device)
        return time.perf_counter() - started

    def evaluate(self, config: Config, limit: int | None = None) -> float:
        """Seconds for a pass over dev, logits gathered on the CPU as the Trainer does."""
        self.model.eval()
        synchronize(self.device)
        started = time.perf_counter()
        with torch.inference_mode(), self.autocast(config):
            for features in self.dev[:limit]:
                self.model(**self.inputs(features, config)).logits.float().cpu()
        synchronize(self.device)
        return time.perf_counter() - started


def summary(values: list[float]) -> str:
    """Median and min–max, in a 26-character column."""
    return f"{statistics.median(values):8.2f}  {min(values):.2f}–{max(values):.2f}".ljust(26)


def ratio_line(medians: dict[str, float], fast: str, slow: str,
               target: float | None = None) -> str:
    if fast not in medians or slow not in medians:
        value, verdict = "n/a, not both measured", ""
    else:
        speedup = medians[slow] / medians[fast]
        value = f"{speedup:.2f}x"
        verdict = "" if target is None else f": {'met' if speedup >= target else 'MISSED'}"
    wanted = "" if target is None else f" (target >= {target:g}x{verdict})"
    return f"   speed-up of {fast} over {slow}: {value}{wanted}"


def bench_model(kind: str, configs: list[Config], recipe: Recipe, device: torch.device,
                args, splits: dict[str, Split]) -> dict:
    from src.models.recipe import max_length_for

    tokenizer, model = build_model(kind, splits["train"].texts)
    max_length = max_length_for(tokenizer, model, recipe.max_length)
    train = encode(tokenizer, splits["train"], max_length)
    dev = encode(tokenizer, splits["dev"], max_length)
    bench = Bench(model, tokenizer, train, dev, recipe, max_length, device, args.seed)

    n_steps = len(bench.train)
    steps = min(args.steps or n_steps, n_steps)
    warmup = min(args.warmup, n_steps)
    lengths = [len(f["input_ids"]) for f in train]
    n_params = sum(p.numel() for p in model.parameters())
    print(f"\n== {kind}: {model.config.num_hidden_layers} layers, hidden "
          f"{model.config.hidden_size}, vocabulary {model.config.vocab_size} ({len(tokenizer)} "
          f"learnt), {n_params / 1e6:.1f}M parameters, on {device}")
    print(f"   train: {len(train)} statements, {n_steps} batches of {recipe.batch} (last "
          f"{len(bench.train[-1])}); {statistics.mean(lengths):.1f} tokens on average (min "
          f"{min(lengths)}, max {max(lengths)}), {sum(n >= max_length for n in lengths)} "
          f"truncated at {max_length}")
    real = sum(lengths)
    for label, pad_to in (("dynamic padding", None), ("pad-to-max", max_length)):
        positions = padded_positions(bench.train, pad_to)
        print(f"   per epoch, {label:<15}: {positions:6d} positions, {real} real tokens + "
              f"{positions - real} padding ({100 * real / positions:.0f}% real)")
    print(f"   dev: {len(dev)} statements, {len(bench.dev)} batches of {recipe.eval_batch}")
    if steps < n_steps:
        timed = padded_positions(bench.train[:steps], None) / sum(map(len, bench.train[:steps]))
        whole = padded_positions(bench.train, None) / len(train)
        print(f"   EXTRAPOLATED: only the first {steps} of {n_steps} batches of each epoch are "
              f"timed, seconds per epoch = their time x {n_steps}/{steps}; with dynamic padding "
              f"those batches are padded to {timed:.1f} tokens on average, the epoch's to "
              f"{whole:.1f}")

    for config in configs:  # untimed: allocators, kernels, lazy imports
        bench.train_steps(config, warmup)
        bench.evaluate(config, limit=1)

    rng = random.Random(args.seed)
    epoch: dict[str, list[float]] = {c.name: [] for c in configs}
    evaluation: dict[str, list[float]] = {c.name: [] for c in configs}
    loads = []
    for _ in range(args.repeats):
        loads.append(load_average().split()[0])
        order = list(configs)
        rng.shuffle(order)
        for config in order:
            epoch[config.name].append(bench.train_steps(config, steps) * n_steps / steps)
            evaluation[config.name].append(bench.evaluate(config))

    print(f"   {warmup} warm-up step{'s' * (warmup != 1)} and one dev batch per configuration, "
          f"then {args.repeats} timed repetition{'s' * (args.repeats != 1)} in shuffled order; "
          f"1-minute load average before each: {', '.join(loads)}")
    extrapolated = "*" if steps < n_steps else ""
    print(f"   {'':<18}{'   train s/epoch' + extrapolated:<26}{'   dev evaluation s'}\n"
          f"   {'configuration':<18}{'  median  min–max':<26}{'  median  min–max'}")
    for name in epoch:
        print(f"   {name:<18}{summary(epoch[name])}{summary(evaluation[name])}".rstrip())
    if extrapolated:
        print(f"   * extrapolated from the first {steps} of {n_steps} steps of each epoch")
    print("   speed-up: the slower configuration's median seconds per epoch over the faster's")
    medians = {name: statistics.median(values) for name, values in epoch.items()}
    print(ratio_line(medians, "bf16-dynamic", "fp32-pad-to-max", TARGET))
    print(ratio_line(medians, "fp32-dynamic", "fp32-pad-to-max"))
    print(ratio_line(medians, "bf16-dynamic", "fp32-dynamic"))
    return {"epoch": medians, "eval": {n: statistics.median(v) for n, v in evaluation.items()},
            "steps": steps, "n_steps": n_steps, "train": len(train), "dev": len(dev)}


def fine_tune_line(result: dict, recipe: Recipe, device: torch.device, n_test: int) -> str:
    """The default recipe's CAMeLBERT fine-tune, from the base model's fastest configuration."""
    best = min(result["epoch"], key=result["epoch"].get)
    train, dev = result["epoch"][best], result["eval"][best]
    final = dev * (result["dev"] + n_test) / result["dev"]  # trainer.evaluate on dev and test
    total = recipe.epochs * (train + dev) + final
    how = (f"extrapolated from {result['steps']} of {result['n_steps']} steps per epoch"
           if result["steps"] < result["n_steps"] else "measured epochs")
    return (f"CAMeLBERT fine-tune (default recipe: {recipe.epochs} epochs x train "
            f"{result['train']} + dev {result['dev']} evaluation each epoch, then dev + test "
            f"evaluation) ≈ {total / 60:.1f} min\n"
            f"   with {best}, the base model's fastest configuration, on {device}: "
            f"{recipe.epochs} x ({train:.1f} s train + {dev:.1f} s dev) + {final:.1f} s final "
            f"evaluation (scaled from dev by statements); {how}\n"
            "   not included: loading the checkpoint, tokenising, saving a checkpoint each "
            "epoch (weights and optimizer state, ~1.3 GB for BERT-base); CAMeLBERT's own "
            "tokenizer splits differently from the learnt vocabulary, changing the padded "
            "lengths")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="tiny,base", help="comma-separated: tiny, base")
    parser.add_argument("--configs", default=",".join(CONFIGS),
                        help=f"comma-separated, from: {', '.join(CONFIGS)}")
    parser.add_argument("--device", choices=("cpu", "cuda"),
                        default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=5, help="timed epochs per configuration")
    parser.add_argument("--steps", type=int,
                        help="time only the first K batches of each epoch and extrapolate")
    parser.add_argument("--warmup", type=int, default=2,
                        help="untimed steps per configuration before the repetitions")
    parser.add_argument("--threads", type=int,
                        help="torch.set_num_threads before anything runs (default: torch's own)")
    parser.add_argument("--seed", type=int, default=0,
                        help="for the batches' order and the order of configurations")
    args = parser.parse_args()
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    if unknown := [m for m in models if m not in ("tiny", "base")]:
        parser.error(f"--models: unknown {', '.join(unknown)} (tiny, base)")
    names = [c.strip() for c in args.configs.split(",") if c.strip()]
    if unknown := [c for c in names if c not in CONFIGS]:
        parser.error(f"--configs: unknown {', '.join(unknown)} ({', '.join(CONFIGS)})")
    if args.repeats < 1 or (args.steps is not None and args.steps < 1) or args.warmup < 0:
        parser.error("--repeats and --steps must be >= 1, --warmup >= 0")
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device available")
    if args.threads:
        torch.set_num_threads(args.threads)
    configs = [CONFIGS[name] for name in dict.fromkeys(names)]
    device = torch.device(args.device)
    recipe = Recipe.load()

    print(f"machine: {machine()}")
    if device.type == "cuda":
        print(f"GPU: {torch.cuda.get_device_name(device)}, CUDA {torch.version.cuda}, TF32 "
              f"matmul {'on' if torch.backends.cuda.matmul.allow_tf32 else 'off'}")
    print(f"load average at start: {load_average()}")
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(f"recipe ({RECIPE.relative_to(ROOT)}): max_length {recipe.max_length}, batch "
          f"{recipe.batch} (eval {recipe.eval_batch}), lr {recipe.args.learning_rate:g}, weight "
          f"decay {recipe.args.weight_decay:g}, warm-up {recipe.args.warmup_steps:g}, "
          f"{recipe.epochs} epochs, gradient clipping {recipe.args.max_grad_norm:g}")
    if any(c.bf16 for c in configs) and not native_bf16(device):
        print(f"warning: bf16 requested on a {device.type.upper()} without native bf16 "
              f"({'AVX512-BF16/AMX' if device.type == 'cpu' else 'compute capability >= 8.0'}): "
              "autocast is emulated and far slower than fp32; leave it out with --configs "
              "fp32-dynamic,fp32-pad-to-max")

    records = {split: read_jsonl(path) for split, path in SPLIT_FILES.items()}
    splits = {split: Split.of(records[split]) for split in ("train", "dev")}
    results = {kind: bench_model(kind, configs, recipe, device, args, splits) for kind in models}
    print()
    if "base" in results:
        print(fine_tune_line(results["base"], recipe, device, len(records["test"])))
    else:
        print("CAMeLBERT fine-tune: not estimated (needs --models base)")
    print(f"load average at end: {load_average()}")


if __name__ == "__main__":
    main()
