output "project_id" {
  description = "PROJECT_ID for env.sh."
  value       = module.tinysign.project_id
}

output "region" {
  description = "REGION for env.sh."
  value       = module.tinysign.region
}

output "bucket" {
  description = "BUCKET for env.sh."
  value       = module.tinysign.bucket
}

output "pipeline_root" {
  description = "PIPELINE_ROOT for env.sh."
  value       = module.tinysign.pipeline_root
}

output "ar_repo" {
  description = "AR_REPO for env.sh."
  value       = module.tinysign.ar_repo
}

output "image_repo" {
  description = "IMAGE_REPO for env.sh."
  value       = module.tinysign.image_repo
}

output "pipeline_repo_url" {
  description = "PIPELINE_REPO_URL for env.sh."
  value       = module.tinysign.pipeline_repo_url
}

output "service_account" {
  description = "SERVICE_ACCOUNT for env.sh."
  value       = module.tinysign.service_account
}

output "ci_service_account" {
  description = "Service account for the Cloud Build trigger."
  value       = module.tinysign.ci_service_account
}

output "env_sh" {
  description = "Derived env.sh block for this environment."
  value       = module.tinysign.env_sh
}
