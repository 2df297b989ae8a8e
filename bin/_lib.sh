# Shared by bin/run and bin/test: install what the project needs on a fresh machine.
# Sourced, not run. Every step is skipped when it is already done, so a warm start is quick.

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# ensure_venv LOCKFILE: a .venv with Python >= 3.11 and exactly the locked packages installed.
ensure_venv() {
  local lock="$1" python="${PYTHON:-python3}" stamp
  if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "Python 3.11 or newer is needed (found: $("$python" --version 2>&1)). Set PYTHON=/path/to/python3.11." >&2
    return 1
  fi
  if [ ! -x .venv/bin/python ]; then
    say "Creating the virtual environment in .venv"
    "$python" -m venv .venv
  fi
  stamp=".venv/.installed-$(basename "$lock")"
  local want
  want="$(cat requirements.lock "$lock" | sha256sum | cut -d' ' -f1)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    say "Installing locked packages from $lock"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip 2>/dev/null || true
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$lock"
    echo "$want" > "$stamp"
  fi
}

# apt_install PACKAGE...: install Debian packages (root on these machines), updating lists once.
apt_install() {
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if [ -z "${_APT_UPDATED:-}" ]; then
    $sudo apt-get update -qq >/dev/null
    _APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

# ensure_postgres: PostgreSQL answering on 127.0.0.1:5432 (started if it is installed but down).
ensure_postgres() {
  if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then return 0; fi
  say "Starting PostgreSQL"
  if [ -d /etc/postgresql ] && command -v pg_ctlcluster >/dev/null; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start
  else
    apt_install postgresql
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start || true
  fi
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && return 0; sleep 1; done
  echo "PostgreSQL did not start on 127.0.0.1:5432." >&2
  return 1
}

# ensure_redis: Redis answering on 127.0.0.1:6379 (started if it is installed but down).
ensure_redis() {
  if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then return 0; fi
  say "Starting Redis"
  command -v redis-server >/dev/null || apt_install redis-server
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && return 0; sleep 1; done
  echo "Redis did not start on 127.0.0.1:6379." >&2
  return 1
}
