"""Synthetic meter counters: lines to train the digits model, whole photos to benchmark it."""
