variable "project_id" {
  type        = string
  description = "GCP project ID that owns the repositories."
}

variable "region" {
  type        = string
  description = "Repository location (the pipeline region)."
}

variable "docker_repository_id" {
  type        = string
  description = "ID of the Docker repository for the component images."
}

variable "pipeline_repository_id" {
  type        = string
  description = "ID of the KFP repository for compiled pipeline templates."
}

variable "keep_recent_images" {
  type        = number
  description = "Number of most recent image versions always kept by the cleanup policy."
  default     = 20
}

variable "untagged_retention_days" {
  type        = number
  description = "Untagged image versions older than this are deleted by the cleanup policy."
  default     = 14
}

variable "kms_key_name" {
  type        = string
  description = "Cloud KMS key for customer-managed encryption (null = Google-managed keys)."
  default     = null
}

variable "labels" {
  type        = map(string)
  description = "Labels put on the repositories."
  default     = {}
}
