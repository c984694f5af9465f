# One image for every Terrarium process; docker-compose.yml picks the command and privileges.
FROM debian:12-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3 python3-venv busybox-static nodejs npm zstd xz-utils bzip2 iproute2 libseccomp2 redis-tools \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt ./
RUN python3 -m venv /opt/venv && /opt/venv/bin/pip install --no-cache-dir -r requirements.txt
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund && npm cache clean --force
COPY . .
# The web server runs as uid 1000 and shares /state (database, uploads) with the root worker.
RUN useradd --uid 1000 --no-create-home terrarium && mkdir -p /state/uploads && chown -R 1000:1000 /state && chmod -R 2775 /state
ENV PATH=/opt/venv/bin:$PATH TERRARIUM_STATE_DIR=/state PYTHONUNBUFFERED=1
EXPOSE 8000
CMD ["python", "-m", "dashboard.webserver", "-b", "0.0.0.0", "-p", "8000"]
