variable "project_id" {
  type        = string
  description = "GCP project ID of the CI service account."
}

variable "region" {
  type        = string
  description = "Region of the Artifact Registry repositories."
}

variable "account_id" {
  type        = string
  description = "Service account ID (the part before @), 6-30 characters."
}

variable "repository_ids" {
  type        = list(string)
  description = "Artifact Registry repositories CI may write to (images and pipeline templates)."
}
