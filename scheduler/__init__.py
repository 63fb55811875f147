"""Scheduled jobs (APScheduler) that call core services; one process acts at a time."""
