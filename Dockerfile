FROM python:3.11-slim
# Every process in the image (gunicorn, manage.py migrate/qcluster/run_bot) runs the
# production settings: DEBUG off, DJANGO_SECRET_KEY and DJANGO_ALLOWED_HOSTS required.
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DJANGO_SETTINGS_MODULE=agentsite.settings.production
WORKDIR /app
COPY pyproject.toml README.md ./
COPY agentsite ./agentsite
COPY budget ./budget
COPY decisions ./decisions
COPY actions ./actions
COPY memory ./memory
COPY telegrambot ./telegrambot
COPY kernel ./kernel
COPY manage.py ./
# collectstatic needs no secrets: the files collected are the same under any settings.
RUN pip install --no-cache-dir . \
    && DJANGO_SETTINGS_MODULE=agentsite.settings.dev python manage.py collectstatic --noinput
EXPOSE 8000
CMD ["gunicorn", "agentsite.wsgi", "--bind", "0.0.0.0:8000", "--workers", "2"]
