#!/usr/bin/env bash
# Print the image reference of a target: docker/image-uri.sh [TARGET]   (default: pipeline)
# [IMAGE_REPO/]<name>:<version>-<git short sha>[-dirty] — what make image builds, make push pushes
# and make compile puts into the pipeline YAML (IMAGE_URI).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

image_uri "${1:-pipeline}"
