"""Trains the LCD line recognizer on drawn shards and exports it to ONNX.

    python -m ocr.lcd.training.train --data-seed 1301 --shards 8 --eval-seed 9001 --steps 3000

Needs the `train` extra (PyTorch, onnx); see README.md beside this file for the recipe
that made the shipped model.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ocr.lcd.decoding import ALPHABET, greedy, parse
from ocr.lcd.recognizer import MODEL_PATH, normalise
from ocr.lcd.training.data import WORK, load_shards, shard_path
from ocr.lcd.training.model import LcdCrnn
from ocr.lcd.training.synth import sample, to_line

CHECKPOINT = WORK / "checkpoint.pt"


def encode(label: str) -> list[int]:
    return [ALPHABET.index(ch) + 1 for ch in label]


def _squeeze(line: np.ndarray, rng: random.Random) -> np.ndarray:
    """Cheap width jitter: the detector's boxes and the meters' digit widths vary."""
    w = line.shape[1]
    new_w = max(16, int(w * rng.uniform(0.8, 1.2)))
    cols = np.linspace(0, w - 1, new_w).round().astype(int)
    return line[:, cols]


def batches(
    lines: list[np.ndarray], labels: list[str], flags: np.ndarray, size: int, rng: random.Random
) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Endless batches of lines of similar width (padding wastes CPU)."""
    order = list(range(len(lines)))
    while True:
        rng.shuffle(order)
        chunk = size * 32
        groups = []
        for start in range(0, len(order), chunk):
            part = sorted(order[start : start + chunk], key=lambda i: lines[i].shape[1])
            groups += [part[k : k + size] for k in range(0, len(part), size)]
        rng.shuffle(groups)
        for group in groups:
            items = []
            for i in group:
                line = lines[i]
                if rng.random() < 0.3:
                    line = _squeeze(line, rng)
                if rng.random() < 0.2:
                    line = 255 - line  # any polarity
                items.append(normalise(line))
            width = -(-max(x.shape[1] for x in items) // 4) * 4
            x = np.stack([np.pad(a, ((0, 0), (0, width - a.shape[1])), mode="edge") for a in items])
            targets = [encode(labels[i]) for i in group]
            yield (
                torch.from_numpy(x[:, None]),
                torch.tensor([c for t in targets for c in t], dtype=torch.long),
                torch.tensor([len(t) for t in targets], dtype=torch.long),
                torch.tensor(flags[group], dtype=torch.float32),
            )


def evaluate(
    model: LcdCrnn, lines: list[np.ndarray], labels: list[str], flags: np.ndarray
) -> tuple[float, float, float]:
    """Exact line text and exact integer part (greedy decoding) on the seven-segment lines."""
    model.eval()
    exact = integer = n = lcd_right = 0
    with torch.no_grad():
        for line, label, flag in zip(lines, labels, flags, strict=True):
            logits, lcd = model(torch.from_numpy(normalise(line))[None, None])
            lcd_right += int((float(lcd[0]) > 0) == bool(flag))
            if not flag:
                continue
            text = greedy(torch.log_softmax(logits[:, 0], -1).numpy())
            n += 1
            exact += text == label
            integer += parse(text, 1).integer == parse(label, 1).integer
    model.train()
    return exact / max(1, n), integer / max(1, n), lcd_right / len(lines)


def load_onnx_weights(model: LcdCrnn, path: Path = MODEL_PATH) -> None:
    """Puts the weights of an exported model back into `model`, for fine-tuning it.

    The export folds each BatchNorm into the convolution before it, so every BatchNorm
    becomes the identity plus the folded bias; keep them in eval mode while training
    (`freeze_batch_norm`), or their batch statistics undo the folding. ONNX orders an
    LSTM's gates i, o, f, c; PyTorch i, f, c, o.
    """
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    weights = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    convs = [n for n in graph.node if n.op_type == "Conv"]
    modules = list(model.features)
    torch_convs = [m for m in modules if isinstance(m, nn.Conv2d)]
    norms = [m for m in modules if isinstance(m, nn.BatchNorm2d)]
    with torch.no_grad():
        for node, conv, norm in zip(convs, torch_convs, norms, strict=True):
            conv.weight.copy_(torch.from_numpy(weights[node.input[1]].copy()))
            norm.weight.fill_(1.0)
            norm.bias.copy_(torch.from_numpy(weights[node.input[2]].copy()))
            norm.running_mean.zero_()
            norm.running_var.fill_(1.0 - norm.eps)
        lstm = next(n for n in graph.node if n.op_type == "LSTM")
        w_ih, w_hh, bias = (weights[name] for name in lstm.input[1:4])
        hidden = model.rnn.hidden_size

        def reorder(a: np.ndarray) -> torch.Tensor:
            i, o, f, c = np.split(a, 4, axis=0)
            return torch.from_numpy(np.concatenate([i, f, c, o], axis=0).copy())

        for d, suffix in enumerate(["", "_reverse"]):
            getattr(model.rnn, f"weight_ih_l0{suffix}").copy_(reorder(w_ih[d]))
            getattr(model.rnn, f"weight_hh_l0{suffix}").copy_(reorder(w_hh[d]))
            getattr(model.rnn, f"bias_ih_l0{suffix}").copy_(reorder(bias[d][: 4 * hidden]))
            getattr(model.rnn, f"bias_hh_l0{suffix}").copy_(reorder(bias[d][4 * hidden :]))
        matmul = next(n for n in graph.node if n.op_type == "MatMul")
        model.classify.weight.copy_(torch.from_numpy(weights[matmul.input[1]].T.copy()))
        model.classify.bias.copy_(torch.from_numpy(weights["classify.bias"].copy()))
        model.lcd.weight.copy_(torch.from_numpy(weights["lcd.weight"].copy()))
        model.lcd.bias.copy_(torch.from_numpy(weights["lcd.bias"].copy()))


def _was_folded(model: LcdCrnn) -> bool:
    """A checkpoint of a fine-tuned ONNX model: BatchNorms on identity statistics."""
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    return all(bool((m.running_mean == 0).all()) for m in norms)


def freeze_batch_norm(model: LcdCrnn) -> None:
    """Keeps every BatchNorm on its stored statistics (call after each `model.train()`)."""
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.eval()


def export(model: LcdCrnn, path: Path = MODEL_PATH) -> None:
    model.eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        model,
        (torch.zeros(1, 1, 32, 160),),
        str(path),
        input_names=["line"],
        output_names=["logits", "lcd"],
        dynamic_axes={"line": {3: "width"}, "logits": {0: "steps"}},
        opset_version=17,
        dynamo=False,
    )
    model.train()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-seed", type=int, required=True)
    parser.add_argument("--shards", type=int, required=True, help="train on shards 0..N-1")
    parser.add_argument(
        "--more-data",
        action="append",
        default=[],
        metavar="SEED:SHARDS:REALISM",
        help="also shards 0..SHARDS-1 of another run, e.g. 1302:6:2",
    )
    parser.add_argument("--eval-seed", type=int, required=True)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--steps", type=int, default=8000)
    parser.add_argument("--batch", type=int, default=48)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--eval-lines", type=int, default=500)
    parser.add_argument("--resume", action="store_true", help="start from the last checkpoint")
    parser.add_argument(
        "--from-onnx",
        action="store_true",
        help="start from the shipped ONNX model (BatchNorm frozen), when no checkpoint is left",
    )
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = random.Random(args.seed)  # noqa: S311 - reproducible batches
    paths = [shard_path(args.data_seed, i) for i in range(args.shards)]
    for more in args.more_data:
        seed, shards, realism = (int(v) for v in more.split(":"))
        paths += [shard_path(seed, i, realism) for i in range(shards)]
    missing = [p.name for p in paths if not p.exists()]
    if missing:
        raise SystemExit(f"draw these shards first (ocr.lcd.training.data): {missing}")
    lines, labels, flags = load_shards(paths)
    drawn = [sample(args.eval_seed, i) for i in range(args.eval_lines)]
    ev_lines = [np.asarray(to_line(image)) for image, _, _ in drawn]
    ev_labels = [label for _, label, _ in drawn]
    ev_flags = np.array([flag for _, _, flag in drawn])
    print(f"{len(lines)} training lines from {len(paths)} shards", flush=True)

    model = LcdCrnn()
    if args.resume:
        model.load_state_dict(torch.load(CHECKPOINT))
    if args.from_onnx:
        load_onnx_weights(model)
    frozen = args.from_onnx or bool(args.resume and _was_folded(model))
    if frozen:
        freeze_batch_norm(model)
    optimiser = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=args.lr, total_steps=args.steps, pct_start=0.1
    )
    ctc = nn.CTCLoss(blank=0, zero_infinity=True)
    bce = nn.BCEWithLogitsLoss()
    started, running = time.time(), 0.0
    for step, (x, targets, lengths, flag) in enumerate(
        batches(lines, labels, flags, args.batch, rng), start=1
    ):
        logits, lcd = model(x)
        log_probs = torch.log_softmax(logits, -1)
        steps = torch.full((x.shape[0],), log_probs.shape[0], dtype=torch.long)
        loss = ctc(log_probs, targets, steps, lengths) + 0.2 * bce(lcd, flag)
        optimiser.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimiser.step()
        schedule.step()
        value = float(loss.detach())
        running = 0.98 * running + 0.02 * value if step > 1 else value
        if step % 100 == 0:
            print(f"step {step} loss {running:.3f} {time.time() - started:.0f}s", flush=True)
        if step % 1000 == 0 or step == args.steps:
            exact, integer, lcd_acc = evaluate(model, ev_lines, ev_labels, ev_flags)
            print(
                f"eval step {step}: line exact {exact:.3f}, integer exact {integer:.3f}, "
                f"lcd-likeness right {lcd_acc:.3f}",
                flush=True,
            )
            torch.save(model.state_dict(), CHECKPOINT)
            export(model)
            if frozen:
                freeze_batch_norm(model)
        if step >= args.steps:
            break


if __name__ == "__main__":
    main()
