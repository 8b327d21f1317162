output "docker_repository_id" {
  description = "Docker repository ID."
  value       = google_artifact_registry_repository.images.repository_id
}

output "pipeline_repository_id" {
  description = "KFP template repository ID."
  value       = google_artifact_registry_repository.pipelines.repository_id
}

output "image_repo" {
  description = "Registry path images are pushed to: <region>-docker.pkg.dev/<project>/<repo>."
  value       = "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.images.repository_id}"
}

output "pipeline_repo_url" {
  description = "KFP template repository URL: https://<region>-kfp.pkg.dev/<project>/<repo>."
  value       = "https://${var.region}-kfp.pkg.dev/${var.project_id}/${google_artifact_registry_repository.pipelines.repository_id}"
}
