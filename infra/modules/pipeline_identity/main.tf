# The service account every pipeline run (Vertex AI Pipelines tasks, CustomJob training, Dataflow
# workers) runs as, with least-privilege IAM:
#   project  : roles/aiplatform.user (create Vertex jobs), roles/dataflow.worker (run Dataflow work
#              items), and roles/dataflow.developer only when the pipeline launches Dataflow jobs;
#   bucket   : roles/storage.objectAdmin on the pipeline bucket only (no project-wide storage role);
#   registry : roles/artifactregistry.reader on the image repository only;
#   itself   : roles/iam.serviceAccountUser, so a pipeline task can start a CustomJob/Dataflow job
#              as this same account (and no other).
# Humans/CI that submit runs get serviceAccountUser on this account only (var.submitter_members).
locals {
  member        = "serviceAccount:${google_service_account.pipeline.email}"
  project_roles = concat(["roles/aiplatform.user", "roles/dataflow.worker"], var.launch_dataflow_jobs ? ["roles/dataflow.developer"] : [])
}

resource "google_service_account" "pipeline" {
  project      = var.project_id
  account_id   = var.account_id
  display_name = "tinysign pipeline runner"
  description  = "Runs tinysign Vertex AI pipeline tasks, training jobs and Dataflow workers."
}

resource "google_project_iam_member" "pipeline" {
  for_each = toset(local.project_roles)

  project = var.project_id
  role    = each.value
  member  = local.member
}

resource "google_storage_bucket_iam_member" "pipeline_objects" {
  bucket = var.bucket_name
  role   = "roles/storage.objectAdmin"
  member = local.member
}

resource "google_artifact_registry_repository_iam_member" "pipeline_images" {
  project    = var.project_id
  location   = var.region
  repository = var.image_repository_id
  role       = "roles/artifactregistry.reader"
  member     = local.member
}

resource "google_service_account_iam_member" "act_as_self" {
  service_account_id = google_service_account.pipeline.name
  role               = "roles/iam.serviceAccountUser"
  member             = local.member
}

resource "google_service_account_iam_member" "submitters" {
  for_each = toset(var.submitter_members)

  service_account_id = google_service_account.pipeline.name
  role               = "roles/iam.serviceAccountUser"
  member             = each.value
}
