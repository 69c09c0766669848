# The image every Tower service runs (web, workers, beat, progress sink, flower, emulator).
FROM python:3.11-slim-bookworm

RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg espeak-ng libpq-dev gcc \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.txt pyproject.toml ./
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN pip install --no-cache-dir --no-deps -e . -e client \
    && useradd --create-home tower && mkdir -p /artifacts /var/lib/tower/secrets \
    && chown tower /artifacts /var/lib/tower/secrets && chmod 700 /var/lib/tower/secrets
USER tower
ENV ARTIFACT_ROOT=/artifacts PYTHONUNBUFFERED=1
EXPOSE 5000 5555 8188
CMD ["gunicorn", "--bind", "0.0.0.0:5000", "--workers", "2", "--worker-class", "gevent", "--worker-connections", "1000", "--no-control-socket", "web.wsgi:app"]
