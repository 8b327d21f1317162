variable "project_id" {
  type        = string
  description = "GCP project ID that owns the bucket."
}

variable "name" {
  type        = string
  description = "Globally unique bucket name (3-63 lowercase letters, digits, dashes, dots)."

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$", var.name))
    error_message = "Bucket names are 3-63 characters of lowercase letters, digits, '-', '_' and '.'."
  }
}

variable "location" {
  type        = string
  description = "Bucket location; use the pipeline region so Vertex AI and Dataflow read it without egress."
}

variable "force_destroy" {
  type        = bool
  description = "Allow `terraform destroy` to delete a non-empty bucket (true only for throwaway envs)."
  default     = false
}

variable "max_noncurrent_versions" {
  type        = number
  description = "Noncurrent versions kept per object; older ones are deleted."
  default     = 3
}

variable "noncurrent_retention_days" {
  type        = number
  description = "Days after which a noncurrent object version is deleted."
  default     = 30
}

variable "temp_prefixes" {
  type        = list(string)
  description = "Object prefixes holding temporary files, deleted after temp_retention_days."
  default     = ["tmp/", "dataflow/temp/", "dataflow/staging/"]
}

variable "temp_retention_days" {
  type        = number
  description = "Days after which objects under temp_prefixes are deleted."
  default     = 7
}

variable "kms_key_name" {
  type        = string
  description = "Cloud KMS key for customer-managed encryption (null = Google-managed keys)."
  default     = null
}

variable "labels" {
  type        = map(string)
  description = "Labels put on the bucket."
  default     = {}
}
