# Optional recurring retraining: Cloud Scheduler creates a Vertex AI PipelineJob from the compiled
# template that CI uploaded to the KFP repository (var.template_uri ends in a tag), running as the pipeline
# service account. (`make schedule` is the SDK alternative: a Vertex schedule created by tinysign.)
locals {
  pipeline_job = {
    displayName    = var.display_name
    templateUri    = var.template_uri
    serviceAccount = var.service_account_email
    runtimeConfig = {
      gcsOutputDirectory = var.pipeline_root
      parameterValues    = var.parameter_values
    }
    labels = var.labels
  }
}

resource "google_cloud_scheduler_job" "retrain" {
  project          = var.project_id
  region           = var.region
  name             = var.name
  description      = "Recurring tinysign retraining run on Vertex AI Pipelines."
  schedule         = var.cron
  time_zone        = var.time_zone
  attempt_deadline = "320s"

  retry_config {
    retry_count = 1
  }

  http_target {
    http_method = "POST"
    uri         = "https://${var.region}-aiplatform.googleapis.com/v1/projects/${var.project_id}/locations/${var.region}/pipelineJobs"
    body        = base64encode(jsonencode(local.pipeline_job))
    headers = {
      "Content-Type" = "application/json"
    }

    oauth_token {
      service_account_email = var.service_account_email
      scope                 = "https://www.googleapis.com/auth/cloud-platform"
    }
  }
}
