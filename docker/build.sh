#!/usr/bin/env bash
# Build the tinysign image(s): docker/build.sh [TARGET ...]   (make image; default target: pipeline)
# Targets: pipeline, pipeline-gpu, dataflow, test (see docker/Dockerfile). Tagged
# [IMAGE_REPO/]<name>:<package version>-<git short sha>[-dirty] — never "latest".
# Uses docker, podman or buildah, whichever works (CONTAINER_ENGINE to choose); settings: docker/lib.sh.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

main() {
  local engine revision source_url created
  parse_targets "$@"
  engine="$(container_engine)"
  revision="${REVISION:-}"
  if [[ -z "$revision" ]] && in_git_checkout; then
    revision="$(git -C "$REPO_ROOT" rev-parse HEAD)"
  fi
  source_url="${SOURCE_URL:-}"
  if [[ -z "$source_url" ]] && in_git_checkout; then
    source_url="$(git -C "$REPO_ROOT" config --get remote.origin.url || true)"
  fi
  source_url="$(echo "$source_url" | sed -E 's#://[^/@]+@#://#')"  # never put credentials in a label
  created="$(in_git_checkout && git -C "$REPO_ROOT" log -1 --format=%cI || date -u +%Y-%m-%dT%H:%M:%SZ)"

  local build=("$engine" build)
  [[ "$engine" == buildah ]] && build=(buildah bud --layers)
  cd "$REPO_ROOT"
  for target in "${TARGET_LIST[@]}"; do
    local uri
    uri="$(image_uri "$target")"
    run "${build[@]}" --file "$DOCKERFILE" --target "$target" --tag "$uri" \
      --build-arg "VERSION=$(package_version)" \
      --build-arg "REVISION=${revision:-$(git_sha)}" \
      --build-arg "SOURCE=${source_url:-unknown}" \
      --build-arg "CREATED=$created" \
      ${CONTAINER_BUILD_OPTS:-} .
    [[ -n "${DRY_RUN:-}" ]] || echo "built $uri" >&2
  done
}

main "$@"
