"""Seconds per training step of a BERT-base-shaped classifier on this machine.

    python scripts/bench_train.py [--batch 32] [--length 128] [--steps 5]

The model has CAMeLBERT's shape (hidden 768, 12 layers, 30k vocabulary) with random weights, so
no download is needed; a step is forward, backward and an AdamW update, as in fine-tuning with the
default recipe. Prints the median and min–max over the timed steps, fp32 and bf16 autocast.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch
from transformers import BertConfig, BertForSequenceClassification


def time_steps(model, batch: dict, steps: int, bf16: bool) -> list[float]:
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-5, weight_decay=0.01)
    timings = []
    for step in range(steps + 1):  # the first step warms up allocators and kernels
        started = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if step:
            timings.append(time.perf_counter() - started)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--length", type=int, default=128)
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    config = BertConfig(vocab_size=30000, num_labels=4)
    model = BertForSequenceClassification(config).train()
    batch = {
        "input_ids": torch.randint(5, config.vocab_size, (args.batch, args.length)),
        "attention_mask": torch.ones(args.batch, args.length, dtype=torch.long),
        "labels": torch.randint(0, 4, (args.batch,)),
    }
    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} "
          f"threads, torch {torch.__version__}")
    print(f"BERT-base-shaped, batch {args.batch} x {args.length} tokens, {args.steps} steps")
    results = {}
    for name, bf16 in (("fp32", False), ("bf16 autocast", True)):
        timings = time_steps(model, batch, args.steps, bf16)
        results[name] = statistics.median(timings)
        print(f"{name:<14} median {results[name]:.2f} s/step  "
              f"(min {min(timings):.2f}, max {max(timings):.2f})")
    print(f"bf16 speed-up: {results['fp32'] / results['bf16 autocast']:.2f}x")


if __name__ == "__main__":
    main()
