FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DJANGO_DEBUG=false
WORKDIR /app
COPY pyproject.toml README.md ./
COPY agentsite ./agentsite
COPY budget ./budget
COPY decisions ./decisions
COPY actions ./actions
COPY memory ./memory
COPY telegrambot ./telegrambot
COPY manage.py ./
RUN pip install --no-cache-dir . \
    && DJANGO_SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput
EXPOSE 8000
CMD ["gunicorn", "agentsite.wsgi", "--bind", "0.0.0.0:8000", "--workers", "2"]
