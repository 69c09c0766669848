"""Celery side of Tower: the app, thin tasks, the canvas builder, and job control."""
