# shellcheck shell=bash
# Shared by docker/build.sh, docker/push.sh, docker/image-uri.sh and infra/deploy.sh (sourced, not run).
#
# Settings come from the environment only (make exports them from env.sh; by hand: `source env.sh`):
#   IMAGE_REPO        registry path, e.g. europe-west4-docker.pkg.dev/my-project/tinysign-dev
#                     (unset: local names like tinysign:0.1.0-1a2b3c4, enough for `make image`)
#   GIT_SHA           short commit of the tag (default: git rev-parse --short=7 HEAD)
#   REVISION          full commit for the OCI revision label (default: git rev-parse HEAD)
#   SOURCE_URL        OCI source label (default: git remote origin, credentials stripped)
#   CONTAINER_ENGINE  docker | podman | buildah (default: the first that works, in that order)
#   DRY_RUN=1         print the engine commands instead of running them
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DOCKERFILE="docker/Dockerfile"
TARGETS=(pipeline pipeline-gpu dataflow test)

die() {
  echo "error: $*" >&2
  exit 2
}

# image name of a Dockerfile target
image_name() {
  case "$1" in
    pipeline) echo "tinysign" ;;
    pipeline-gpu) echo "tinysign-gpu" ;;
    dataflow) echo "tinysign-dataflow" ;;
    test) echo "tinysign-test" ;;
    *) die "unknown image target '$1' (targets: ${TARGETS[*]})" ;;
  esac
}

in_git_checkout() {
  command -v git >/dev/null 2>&1 && git -C "$REPO_ROOT" rev-parse --git-dir >/dev/null 2>&1
}

package_version() {
  local version
  version="$(sed -n 's/^version *= *"\([^"]*\)".*/\1/p' "$REPO_ROOT/pyproject.toml" | head -n 1)"
  [[ -n "$version" ]] || die "pyproject.toml: no 'version = \"...\"' line"
  echo "$version"
}

git_sha() {
  if [[ -n "${GIT_SHA:-}" ]]; then
    echo "$GIT_SHA"
  elif in_git_checkout; then
    git -C "$REPO_ROOT" rev-parse --short=7 HEAD
  else
    die "not a git checkout and GIT_SHA is not set: set GIT_SHA=<short commit> (images are tagged <version>-<commit>)"
  fi
}

# "-dirty" when tracked files differ from the commit: such an image is not that commit's image.
dirty_suffix() {
  if [[ -z "${GIT_SHA:-}" ]] && in_git_checkout \
      && [[ -n "$(git -C "$REPO_ROOT" status --porcelain --untracked-files=no)" ]]; then
    echo "-dirty"
  fi
}

image_tag() {
  echo "$(package_version)-$(git_sha)$(dirty_suffix)"
}

# full image reference of a target: [IMAGE_REPO/]name:<version>-<commit>[-dirty]
image_uri() {
  local name
  name="$(image_name "$1")"
  echo "${IMAGE_REPO:+${IMAGE_REPO%/}/}${name}:$(image_tag)"
}

# the container engine to use; a docker client without a reachable daemon does not count
container_engine() {
  if [[ -n "${CONTAINER_ENGINE:-}" ]]; then
    case "$CONTAINER_ENGINE" in docker | podman | buildah) ;; *) die "CONTAINER_ENGINE must be docker, podman or buildah, not '$CONTAINER_ENGINE'" ;; esac
    [[ -n "${DRY_RUN:-}" ]] || command -v "$CONTAINER_ENGINE" >/dev/null 2>&1 \
      || die "CONTAINER_ENGINE=$CONTAINER_ENGINE is not installed"
    echo "$CONTAINER_ENGINE"
    return
  fi
  local note=""
  if command -v docker >/dev/null 2>&1; then
    if docker info >/dev/null 2>&1; then
      echo docker
      return
    fi
    note=" (docker is installed but its daemon is not reachable: start Docker, or install podman or buildah)"
  fi
  for engine in podman buildah; do
    if command -v "$engine" >/dev/null 2>&1; then
      echo "$engine"
      return
    fi
  done
  die "no container engine found: install docker, podman or buildah${note}"
}

# print (DRY_RUN=1) or run a command
run() {
  if [[ -n "${DRY_RUN:-}" ]]; then
    printf '%q ' "$@"
    printf '\n'
  else
    echo "+ $*" >&2
    "$@"
  fi
}

# TARGET_LIST from the arguments (space-separated lists allowed); default: pipeline
parse_targets() {
  TARGET_LIST=()
  # shellcheck disable=SC2206  # word-splitting "pipeline dataflow" into targets is intended
  local words=($*)
  ((${#words[@]} > 0)) || words=(pipeline)
  for target in "${words[@]}"; do
    image_name "$target" >/dev/null
    TARGET_LIST+=("$target")
  done
}
