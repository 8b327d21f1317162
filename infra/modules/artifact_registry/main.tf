# Two repositories: Docker images for the component image(s), tagged <version>-<git sha> and
# immutable (a tag never moves), and a Kubeflow Pipelines template repository that CI uploads the
# compiled pipeline to (what a scheduled retraining run starts from).
resource "google_artifact_registry_repository" "images" {
  project       = var.project_id
  location      = var.region
  repository_id = var.docker_repository_id
  description   = "tinysign component images (<version>-<git sha> tags, immutable)"
  format        = "DOCKER"
  kms_key_name  = var.kms_key_name
  labels        = var.labels

  docker_config {
    immutable_tags = true
  }

  cleanup_policy_dry_run = false

  cleanup_policies {
    id     = "keep-most-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = var.keep_recent_images
    }
  }

  cleanup_policies {
    id     = "delete-old-untagged"
    action = "DELETE"
    condition {
      tag_state  = "UNTAGGED"
      older_than = "${var.untagged_retention_days * 86400}s"
    }
  }
}

resource "google_artifact_registry_repository" "pipelines" {
  project       = var.project_id
  location      = var.region
  repository_id = var.pipeline_repository_id
  description   = "tinysign compiled KFP pipeline templates"
  format        = "KFP"
  kms_key_name  = var.kms_key_name
  labels        = var.labels
}
