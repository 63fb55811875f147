"""Benchmark of Telegram inbound turns: `kabinet serve` on PostgreSQL against an echo bot."""
