# Share Desk: the dashboard (and its stable-link route) on port 8501.
# With no AWS settings it runs the embedded demo; in production pass the usual
# AWS_* / SHAREDESK_* environment and mount .streamlit/secrets.toml (never baked in).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin sharedesk

WORKDIR /app
# Requirements first, so a code change does not reinstall them. One layer installs and then
# drops what the desk never runs (a removal in a later layer would not make the image smaller):
# - byte code for every module of every package (pip compiles them all: about 110 MB);
#   the modules the desk imports are compiled below, once the code is in place;
# - the packages' own test suites (pandas, numpy, pyarrow: about 65 MB), C headers and
#   Cython sources (only a compiler reads them), and pip itself;
# - pyarrow's Flight RPC module (about 35 MB; `import pyarrow.flight` then fails as on a
#   build without it, and nothing in the desk or Streamlit imports it), and pydeck's
#   Jupyter widget bundle (about 23 MB of JavaScript; Streamlit draws maps with its own frontend).
COPY requirements.txt .
RUN python -m venv "$VIRTUAL_ENV" \
 && pip install --no-compile -q -r requirements.txt \
 && site="$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" \
 && rm -rf "$site/pandas/tests" "$site/pyarrow/tests" "$site/pyarrow/include" "$site/pyarrow/src" \
 && find "$site/numpy" -type d -name tests -prune -exec rm -rf {} + \
 && find "$site/pyarrow" \( -name '*.pyx' -o -name '*.pxd' -o -name '*.pxi' -o -name '*.h' \) -delete \
 && rm -rf "$site"/pyarrow/libarrow_flight.so* "$site"/pyarrow/libarrow_python_flight.so* "$site"/pyarrow/_flight.*.so "$site/pydeck/nbextension/static" \
 && python -m pip uninstall -y -q pip setuptools \
 && find "$VIRTUAL_ENV" -type d -name __pycache__ -prune -exec rm -rf {} +

# The code stays owned by root: the desk only writes under its state folder.
COPY . .
# Byte code for what the desk imports, written now as root, because at run time the code is
# read-only to the desk's user: every desk module (the navigation script and __main__ run when
# imported, so they are only compiled), the demo's moto server and the libraries pages draw with.
RUN env -u PYTHONDONTWRITEBYTECODE python -c "import importlib, pkgutil, dashboard, streamlit_app; \
[importlib.import_module(m.name) for m in pkgutil.walk_packages(dashboard.__path__, 'dashboard.') if m.name not in ('dashboard.__main__', 'dashboard.ui.navigation')]; \
import streamlit.web.bootstrap, streamlit.web.cli, pandas, altair, pyarrow, uvicorn, moto.server, \
moto.s3.models, moto.s3.responses, moto.sts.models, moto.sts.responses, moto.iam.models, moto.iam.responses" \
 && python -m compileall -q dashboard pages streamlit_app.py

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
