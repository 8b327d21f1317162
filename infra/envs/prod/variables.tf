variable "project_id" {
  type        = string
  description = "GCP project ID (PROJECT_ID in env.sh; infra/deploy.sh passes it as TF_VAR_project_id)."
}

variable "region" {
  type        = string
  description = "Region of every regional resource (REGION in env.sh; passed as TF_VAR_region)."
}

variable "submitter_members" {
  type        = list(string)
  description = "IAM members allowed to submit pipeline runs as the pipeline service account, e.g. [\"group:ml@example.com\"]."
  default     = []
}

variable "enable_schedule" {
  type        = bool
  description = "Create the Cloud Scheduler retraining job (needs a template uploaded by CI first)."
  default     = false
}

variable "schedule_cron" {
  type        = string
  description = "Unix cron (5 fields) of the scheduled retraining runs."
  default     = "0 3 * * 1"
}
