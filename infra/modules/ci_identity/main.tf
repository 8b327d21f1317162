# The service account Cloud Build runs cloudbuild/cloudbuild.yaml as: it may write images and
# pipeline templates to this project's tinysign repositories and write its build logs, nothing else.
locals {
  member = "serviceAccount:${google_service_account.ci.email}"
}

resource "google_service_account" "ci" {
  project      = var.project_id
  account_id   = var.account_id
  display_name = "tinysign CI (Cloud Build)"
  description  = "Builds and pushes tinysign images and uploads compiled pipeline templates."
}

resource "google_artifact_registry_repository_iam_member" "writer" {
  for_each = toset(var.repository_ids)

  project    = var.project_id
  location   = var.region
  repository = each.value
  role       = "roles/artifactregistry.writer"
  member     = local.member
}

resource "google_project_iam_member" "log_writer" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = local.member
}
