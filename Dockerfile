# Saksi service image: API, web UI and workers (`saksi serve`, `saksi worker`).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    SAKSI_DATA_DIR=/data

RUN useradd --system --create-home --home-dir /home/saksi --uid 10001 saksi \
 && mkdir -p /data && chown saksi:saksi /data

WORKDIR /opt/saksi
COPY pyproject.toml README.md ./
COPY app ./app
COPY nvr_adapters ./nvr_adapters
COPY custody ./custody
COPY drive_sync ./drive_sync
COPY nvr_sim ./nvr_sim
RUN pip install .

USER saksi
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"
CMD ["saksi", "serve", "--host", "0.0.0.0", "--port", "8000"]
