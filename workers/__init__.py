"""Plain work functions: ComfyUI client, workflow templates, media, storage. No Celery here."""
