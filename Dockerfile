# The gateway image: one image, the command picks the role (serve, worker, run).
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY adapters ./adapters
COPY mappings ./mappings
RUN pip install --no-cache-dir . && useradd --system --uid 10001 gateway
ENV GATEWAY_MAPPINGS_DIR=/app/mappings
USER gateway
EXPOSE 8000
CMD ["gateway", "serve", "--host", "0.0.0.0"]
