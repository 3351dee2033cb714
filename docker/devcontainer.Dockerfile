# The development container: Python 3.11, Node 22, the Docker CLI, and the pinned packages installed by
# the same ./dev wrapper everyone uses. docker/compose.yaml builds it (from the repository root) for
# .devcontainer/devcontainer.json. The node and python bases are both Debian bookworm, so the copied node runs
# on this glibc; the Docker CLI binaries copied from the docker image are static.
FROM node:22-bookworm-slim AS node
FROM docker:28-cli AS docker-cli
FROM python:3.11.14-slim-bookworm

# git for the editor's source control; the Docker CLI (a static binary) and its compose/buildx plugins talk
# to an engine only when one is reachable (the host's socket, opt-in in docker/compose.yaml).
RUN apt-get update \
    && apt-get install --yes --no-install-recommends git \
    && rm -rf /var/lib/apt/lists/*
COPY --from=docker-cli /usr/local/bin/docker /usr/local/bin/docker
COPY --from=docker-cli /usr/local/libexec/docker/cli-plugins/ /usr/local/libexec/docker/cli-plugins/
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules/npm/ /usr/local/lib/node_modules/npm/
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
    && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx

RUN useradd --create-home --uid 1000 --shell /bin/bash dev \
    && install --directory --owner dev /workspace
USER dev
WORKDIR /workspace
ENV PIP_NO_CACHE_DIR=1

# ./dev installs uv, requirements/develop.txt, the project itself (editable) and the pinned CDK CLI; its stamps
# make the postCreateCommand's ./dev a no-op until a lock file changes. Only the files the set-up reads are
# copied, and the package is a stub: the real code arrives with the workspace mount, so code edits do not
# rebuild this layer. uv's download cache is dropped from the layer.
COPY --chown=dev dev pyproject.toml package.json package-lock.json ./
COPY --chown=dev requirements/ requirements/
RUN mkdir localsage \
    && touch localsage/__init__.py README.md \
    && ./dev --version \
    && rm -rf localsage localsage.egg-info README.md "$HOME/.cache/uv"
