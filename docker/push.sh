#!/usr/bin/env bash
# Push built image(s) to Artifact Registry: docker/push.sh [TARGET ...]   (make push; default: pipeline)
# Needs IMAGE_REPO (env.sh) and registry credentials: gcloud auth configure-docker <region>-docker.pkg.dev
# Refuses "-dirty" tags (an image of uncommitted changes) unless ALLOW_DIRTY=1.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

main() {
  [[ -n "${IMAGE_REPO:-}" ]] \
    || die "IMAGE_REPO is not set: copy env.sh.example to env.sh, fill it in (make reads it), then make image push"
  local engine
  parse_targets "$@"
  engine="$(container_engine)"
  for target in "${TARGET_LIST[@]}"; do
    local uri
    uri="$(image_uri "$target")"
    if [[ "$uri" == *-dirty && -z "${ALLOW_DIRTY:-}" ]]; then
      die "$uri is built from uncommitted changes: commit, make image, then push (or ALLOW_DIRTY=1)"
    fi
    if [[ -z "${DRY_RUN:-}" ]] && ! "$engine" image inspect "$uri" >/dev/null 2>&1; then
      die "$uri is not built here: run make image first"
    fi
    run "$engine" push "$uri"
    [[ -n "${DRY_RUN:-}" ]] || echo "pushed $uri" >&2
  done
}

main "$@"
