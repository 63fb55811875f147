# Kabinet's image. Its Python packages and Debian packages come from the very call that sets
# up a fresh Debian machine and CI (`bash scripts/setup`, tests/deploy checks it): the locked
# versions the tests ran with, tesseract-ocr, CA certificates. The PDFs' and charts' DejaVu
# fonts ship inside matplotlib's wheel, so no font package is needed.
#   docker build -t kabinet .
#   docker run --rm kabinet --help
FROM debian:12-slim
LABEL org.opencontainers.image.title="kabinet" \
      org.opencontainers.image.description="A household electricity consumer's personal cabinet as a chatbot" \
      org.opencontainers.image.licenses="MIT"

ENV LANG=C.UTF-8 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# The user the bot runs as; its home holds the working directory and the data volumes.
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/kabinet \
        --shell /usr/sbin/nologin kabinet \
    && install -d -o kabinet -g kabinet -m 0750 \
        /var/lib/kabinet /var/lib/kabinet/photos /var/lib/kabinet/bills

WORKDIR /opt/kabinet
COPY . .
# As root (apt), the same call as CI's `scripts/test`, without the dev tools. The code
# stays root-owned and read-only for the bot, so it is compiled here, once.
RUN --mount=type=cache,target=/root/.cache/pip \
    bash scripts/setup \
    && rm -rf /var/lib/apt/lists/* \
    && .venv/bin/python -m compileall -q -x '/\.venv/' .

ENV PATH=/opt/kabinet/.venv/bin:$PATH \
    KABINET_HOST=0.0.0.0 \
    KABINET_PORT=8080 \
    PHOTOS_DIR=/var/lib/kabinet/photos \
    BILLS_DIR=/var/lib/kabinet/bills
# Meter photos (evidence) and bill PDFs: shared by every replica, backed up.
VOLUME ["/var/lib/kabinet/photos", "/var/lib/kabinet/bills"]
WORKDIR /var/lib/kabinet
USER kabinet
EXPOSE 8080
# Healthy = answering and the database reachable (/healthz), on the port set at run time.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as r; r.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('KABINET_PORT', '8080'), timeout=4)"]
ENTRYPOINT ["kabinet"]
CMD ["serve"]
