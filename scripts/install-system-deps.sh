#!/usr/bin/env bash
# Installs what the local stack needs from the OS, only where it is missing:
# a Java runtime and Maven (for the Kafka broker's jars), the PostgreSQL server,
# qbittorrent-nox (the real torrent client the tests and the demo drive), ffmpeg (the
# sandbox encodes real audiobook files with it, and its fake Audiobookshelf probes them
# with ffprobe as the real server does), Prometheus (the tests and the demo scrape the
# services' /metrics with it), and a Compose client to validate docker-compose.yml.
set -euo pipefail

need=()
command -v java >/dev/null 2>&1 || need+=(default-jre-headless)
command -v mvn >/dev/null 2>&1 || need+=(maven)
if ! command -v pg_ctl >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  need+=(postgresql)
fi
command -v qbittorrent-nox >/dev/null 2>&1 || need+=(qbittorrent-nox)
command -v ffmpeg >/dev/null 2>&1 || need+=(ffmpeg)
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)

# To validate docker-compose.yml (CI runs `compose config -q`); no engine is needed.
if ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null 2>&1; then
  need+=(docker-compose)
fi

if [ "${#need[@]}" -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "missing system packages: ${need[*]} (install them, or run 'make install' as root)" >&2
  exit 1
fi
echo "installing system packages: ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# Debian starts a PostgreSQL cluster and a Prometheus of its own on install; the project
# runs its own, so stop those.
if command -v service >/dev/null 2>&1; then
  service postgresql stop >/dev/null 2>&1 || true
  service prometheus stop >/dev/null 2>&1 || true
fi
