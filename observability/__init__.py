"""What a process tells its operator about itself: Prometheus metrics."""
