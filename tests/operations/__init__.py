"""Operating Kabinet: probes, metrics, logs, the command line, retention."""
