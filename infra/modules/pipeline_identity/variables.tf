variable "project_id" {
  type        = string
  description = "GCP project ID of the service account and the project-level roles."
}

variable "region" {
  type        = string
  description = "Region of the Artifact Registry image repository."
}

variable "account_id" {
  type        = string
  description = "Service account ID (the part before @), 6-30 characters."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.account_id))
    error_message = "account_id must be 6-30 lowercase letters, digits or dashes, starting with a letter."
  }
}

variable "bucket_name" {
  type        = string
  description = "Pipeline bucket; the account gets roles/storage.objectAdmin on this bucket only."
}

variable "image_repository_id" {
  type        = string
  description = "Artifact Registry Docker repository the account may pull images from."
}

variable "launch_dataflow_jobs" {
  type        = bool
  description = "Grant roles/dataflow.developer so pipeline tasks can launch Dataflow extraction jobs."
  default     = true
}

variable "submitter_members" {
  type        = list(string)
  description = "IAM members (user:, group:, serviceAccount:) allowed to run pipelines as this account."
  default     = []
}
