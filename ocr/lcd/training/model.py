"""The LCD line recognizer's network (PyTorch, for training and ONNX export only)."""

from __future__ import annotations

import torch
from torch import nn

from ocr.lcd.decoding import ALPHABET


def _block(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)]


class LcdCrnn(nn.Module):
    """A small CRNN: convolutions down to one row per 4 pixel columns, a BiLSTM, CTC.

    Input (N, 1, 32, W) standardised grey; outputs (W/4, N, classes) logits and an
    (N,) logit that the line is seven-segment (pooled over the convolutional features).
    """

    def __init__(self, hidden: int = 96) -> None:
        super().__init__()
        # Narrow on purpose: it trains in under an hour on a shared 2-core machine and
        # reads a line in a few milliseconds; seven segments need no more.
        self.features = nn.Sequential(
            *_block(1, 16),
            nn.MaxPool2d(2),  # 16 x W/2
            *_block(16, 32),
            nn.MaxPool2d(2),  # 8 x W/4
            *_block(32, 64),
            *_block(64, 64),
            nn.MaxPool2d((2, 1)),  # 4 x W/4
            *_block(64, 96),
            nn.MaxPool2d((2, 1)),  # 2 x W/4
            nn.Conv2d(96, 128, (2, 1), bias=False),  # 1 x W/4
            nn.BatchNorm2d(128),
            nn.ReLU(True),
        )
        self.rnn = nn.LSTM(128, hidden, bidirectional=True)
        self.classify = nn.Linear(2 * hidden, len(ALPHABET) + 1)
        self.lcd = nn.Linear(128, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.features(x).squeeze(2)  # N, C, T
        lcd = self.lcd(f.mean(dim=2)).squeeze(1)
        seq = f.permute(2, 0, 1)  # T, N, C
        out, _ = self.rnn(seq)
        return self.classify(out), lcd
