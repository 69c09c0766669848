"""The pipeline's logic without Celery: planning a job's rows, options, routing, leases,
recording outcomes, control (cancel, retry, retake), the workflow and library stores and the
fleet registry. The web tier and the Celery adapters in tasks/ both call it."""
