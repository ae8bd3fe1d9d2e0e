# Share Desk: the dashboard (and its stable-link route) on port 8501.
# With no AWS settings it runs the embedded demo; in production pass the usual
# AWS_* / SHAREDESK_* environment and mount .streamlit/secrets.toml (never baked in).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin sharedesk

WORKDIR /app
# Requirements first, so a code change does not reinstall them.
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
# The code stays owned by root: the desk only writes under its state folder.
COPY . .

USER sharedesk
# The default SQLite log and the demo's server record live here; mount a volume
# (or set DATABASE_URL) to keep the issuance log beyond the container's life.
ENV SHAREDESK_STATE_DIR=/home/sharedesk/.local/state/share-desk
RUN mkdir -p "$SHAREDESK_STATE_DIR"

EXPOSE 8501
# The slim image has no curl: ask Streamlit's health route with Python itself.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4).read().strip() == b'ok' else 1)"]

CMD ["python", "-m", "streamlit", "run", "streamlit_app.py", "--server.address=0.0.0.0", "--server.port=8501"]
