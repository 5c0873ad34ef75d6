"""ONNX copies of an exported model, for onnxruntime: fp32, and int8 dynamically quantised.

The files go into the model folder's ``onnx/`` (``model.onnx``, ``model_quantized.onnx``, the
names the Hub's ONNX tools look for), beside the tokenizer and ``config.json`` they need.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

from src.models.layout import ONNX_FILES, ONNX_INPUTS


def export_onnx(folder: Path, int8: bool) -> list[Path]:
    """Write ``onnx/model.onnx`` (and ``onnx/model_quantized.onnx`` with ``int8``) for the
    transformers model in ``folder``; returns the files written."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    model = AutoModelForSequenceClassification.from_pretrained(folder, use_safetensors=True)
    model.eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    # Two lengths in the example batch, so no dimension is traced as a constant; a pair, so
    # that token_type_ids, where the tokenizer gives them, are inputs: a model that reads a
    # target with each text ([CLS] target [SEP] text [SEP]) needs them to read it as trained.
    example = tokenizer(["هدف", "هدف آخر"], ["نص قصير", "نص أطول قليلا من النص الأول للتجربة"],
                        padding=True, return_tensors="pt")
    inputs = [name for name in ONNX_INPUTS if name in example]
    batch, sequence = torch.export.Dim("batch"), torch.export.Dim("sequence")
    fp32 = folder / ONNX_FILES["onnx"]
    fp32.parent.mkdir(exist_ok=True)
    # The exporter's notes on axis names and an absent torchvision concern nothing of ours.
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            model, (), kwargs={name: example[name] for name in inputs},
            input_names=inputs, output_names=["logits"], dynamo=True, verbose=False,
            dynamic_shapes={name: {0: batch, 1: sequence} for name in inputs})
    program.save(str(fp32))
    written = [fp32]
    if int8:
        written.append(quantize(fp32, folder / ONNX_FILES["onnx-int8"]))
    return written


def quantize(source: Path, target: Path) -> Path:
    """Dynamic quantisation: int8 weights, activations quantised per batch at run time."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # The quantiser re-runs shape inference, which refuses the intermediate shapes some torch
    # versions record (torch 2.11: "(768) vs (4)" at the classifier); it recomputes them anyway.
    model = onnx.load(str(source))
    del model.graph.value_info[:]
    logging.getLogger().setLevel(logging.ERROR)
    quantize_dynamic(model, str(target), weight_type=QuantType.QInt8)
    return target
