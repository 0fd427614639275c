# One image for every caravan component; docker-compose.yml picks the command.
#
# BASE_IMAGE is any Debian-like image with python3 (3.11 or newer) and its venv module: python:3.11-slim-bookworm
# where a registry is reachable, or the local caravan-base:bookworm that scripts/compose-setup.sh builds with
# debootstrap where none is. Dependencies come from constraints.txt, the same pins `make install` uses.
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}
# what `make compose-test` removes once a rebuild has left an image of caravan's untagged
LABEL org.opencontainers.image.title=caravan
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN test -x /opt/venv/bin/python || python3 -m venv /opt/venv
WORKDIR /app
# dependencies first, in their own layer: a change to caravan's code does not reinstall them
COPY pyproject.toml constraints.txt ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install --quiet -c constraints.txt -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt
# the package, its schemas and scenarios: .dockerignore lets nothing else in
COPY . .
# PYTHONDONTWRITEBYTECODE keeps the running containers from writing bytecode: it is written here, once, so no
# component compiles every module it imports again each time it starts (about 0.35 CPU s)
RUN pip install --quiet --no-deps -c constraints.txt -e . && python -m compileall -q exchange nodes \
    && caravan --help >/dev/null
ENTRYPOINT []
CMD ["caravan", "--help"]
