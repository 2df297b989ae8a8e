# One image for web (gunicorn), worker and beat. Build: docker compose build
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=bts_portal.settings.production \
    BTS_DATA_DIR=/data

WORKDIR /app
COPY requirements.lock ./
RUN pip install --no-cache-dir -r requirements.lock \
    && useradd --create-home --uid 1000 bts \
    && mkdir -p /data && chown bts /data
COPY --chown=bts . .
# Static files are collected at build time; the secrets here only satisfy settings loading.
RUN DJANGO_SECRET_KEY=build-only DJANGO_ALLOWED_HOSTS=localhost BTS_SECRET_KEYS=YnVpbGQtb25seS1ub3QtYS1zZWNyZXQtMDAwMDAwMDA= \
    python manage.py collectstatic --noinput -v0
USER bts
EXPOSE 8000
CMD ["gunicorn", "bts_portal.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-", "--no-control-socket"]
