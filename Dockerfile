# Causerie in a container: one process serves the reader and fetches feeds in the background.
#
#   docker build -t causerie .
#   docker volume create causerie-data
#   docker run --rm -it -v causerie-data:/data causerie reader user add NAME   # the first account
#   docker run -d --name causerie -p 127.0.0.1:8000:8000 -v causerie-data:/data causerie
#
# `reader serve --host 0.0.0.0` refuses to start until an account exists (a reader open beyond
# loopback asks for a login): create one first, as above or with READER_PASSWORD in the environment.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The same install as `pip install .`: the wheel carries the templates and static files.
WORKDIR /src
COPY pyproject.toml README.md ./
COPY reader reader
COPY templates templates
COPY static static
RUN pip install . && rm -rf /src

# A new database starts from the default subscriptions, as it does from a checkout.
COPY feeds.opml /usr/local/share/causerie/feeds.opml

# A user without a login shell or a home of its own, owning only the data directory. A named
# volume mounted at /data starts with this ownership; a bind mount must be writable by uid 10001.
RUN useradd --system --uid 10001 --user-group --no-create-home --home-dir /data --shell /usr/sbin/nologin causerie \
    && mkdir /data && chown causerie:causerie /data

# The database, its WAL files and the secret key (made on first start) all live in /data.
ENV READER_DB=/data/reader.sqlite \
    READER_OPML=/usr/local/share/causerie/feeds.opml
VOLUME /data
WORKDIR /data
USER causerie

EXPOSE 8000
# /healthz answers 200 "ok" without a login and without touching the feeds; python's urllib,
# because the slim image has no curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"]

CMD ["reader", "serve", "--host", "0.0.0.0", "--port", "8000"]
