#!/usr/bin/env bash
# Create or destroy the GCP side of tinysign with terraform (make deploy / make undeploy).
#   infra/deploy.sh plan|apply|destroy|env
# plan/apply/destroy run terraform in infra/envs/$DEPLOY_ENV with its GCS state backend; env prints
# the env.sh block of the deployed environment (terraform output env_sh).
# Reads (make exports them from env.sh; by hand: `source env.sh`):
#   PROJECT_ID, REGION     the project and region (TF_VAR_project_id / TF_VAR_region)
#   DEPLOY_ENV             infra/envs/<DEPLOY_ENV>: dev (default) or prod
#   TF_STATE_BUCKET        existing GCS bucket for the terraform state (versioning on)
#   AUTO_APPROVE=1         apply/destroy without the interactive confirmation
#   DRY_RUN=1              print the terraform commands instead of running them
# shellcheck source=../docker/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../docker/lib.sh"  # set -euo pipefail, die, run

main() {
  local action="${1:-}"
  case "$action" in plan | apply | destroy | env) ;; *) die "usage: infra/deploy.sh plan|apply|destroy|env" ;; esac

  local env_dir
  env_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/envs/${DEPLOY_ENV:-dev}"
  [[ -d "$env_dir" ]] || die "DEPLOY_ENV=${DEPLOY_ENV:-dev}: no $env_dir (environments: $(ls "$(dirname "$env_dir")" | tr '\n' ' '))"
  [[ -n "${DRY_RUN:-}" ]] || command -v terraform >/dev/null 2>&1 \
    || die "terraform is not installed: install Terraform >= 1.5 (https://developer.hashicorp.com/terraform/install), then run this again"
  local missing=()
  for name in PROJECT_ID REGION TF_STATE_BUCKET; do
    [[ -n "${!name:-}" ]] || missing+=("$name")
  done
  ((${#missing[@]} == 0)) || die "${missing[*]} not set: copy env.sh.example to env.sh and fill it in (make reads it)"

  export TF_VAR_project_id="$PROJECT_ID" TF_VAR_region="$REGION" TF_IN_AUTOMATION=1
  local tf=(terraform "-chdir=$env_dir")
  run "${tf[@]}" init -input=false "-backend-config=bucket=$TF_STATE_BUCKET"
  local approve=()
  [[ -z "${AUTO_APPROVE:-}" ]] || approve=(-auto-approve)
  case "$action" in
    plan) run "${tf[@]}" plan -input=false ;;
    apply)
      run "${tf[@]}" apply -input=false "${approve[@]}"
      echo "# env.sh values of this environment (also: infra/deploy.sh env):" >&2
      run "${tf[@]}" output -raw env_sh
      ;;
    destroy) run "${tf[@]}" destroy -input=false "${approve[@]}" ;;
    env) run "${tf[@]}" output -raw env_sh ;;
  esac
}

main "$@"
