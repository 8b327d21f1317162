output "project_id" {
  description = "PROJECT_ID for env.sh."
  value       = var.project_id
}

output "region" {
  description = "REGION for env.sh."
  value       = var.region
}

output "bucket" {
  description = "BUCKET for env.sh: the pipeline bucket."
  value       = module.bucket.name
}

output "pipeline_root" {
  description = "PIPELINE_ROOT for env.sh: gs:// root of the KFP artifacts."
  value       = local.pipeline_root
}

output "ar_repo" {
  description = "AR_REPO for env.sh: the Docker repository ID."
  value       = module.registry.docker_repository_id
}

output "image_repo" {
  description = "IMAGE_REPO for env.sh: where `make push` pushes images."
  value       = module.registry.image_repo
}

output "pipeline_repo_url" {
  description = "PIPELINE_REPO_URL for env.sh: KFP template repository CI uploads compiled pipelines to."
  value       = module.registry.pipeline_repo_url
}

output "service_account" {
  description = "SERVICE_ACCOUNT for env.sh: the pipeline runner account."
  value       = module.pipeline_identity.email
}

output "ci_service_account" {
  description = "Cloud Build service account (empty when enable_ci_identity = false)."
  value       = var.enable_ci_identity ? module.ci_identity[0].email : ""
}

output "env_sh" {
  description = "The derived block of env.sh for this environment (`infra/deploy.sh env` prints it)."
  value       = <<-EOT
    export PROJECT_ID=${var.project_id}
    export REGION=${var.region}
    export DEPLOY_ENV=${var.env}
    export BUCKET=${module.bucket.name}
    export AR_REPO=${module.registry.docker_repository_id}
    export IMAGE_REPO=${module.registry.image_repo}
    export PIPELINE_REPO_URL=${module.registry.pipeline_repo_url}
    export PIPELINE_ROOT=${local.pipeline_root}
    export SERVICE_ACCOUNT=${module.pipeline_identity.email}
  EOT
}
