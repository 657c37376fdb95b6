# The image deploy/ runs: metadb with the Kubernetes extra, as a non-root user.
#   docker build -t ghcr.io/metadb/metadb:0.1.0 .
# (The operator Deployment runs `metadb operator run --kubernetes`; the same image serves the
# REST API with `metadb serve --host 0.0.0.0`.)
FROM python:3.12-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir --prefix=/install '.[kubernetes]'

FROM python:3.12-slim
COPY --from=build /install /usr/local
USER 65532:65532
ENTRYPOINT ["metadb"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
