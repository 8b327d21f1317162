variable "project_id" {
  type        = string
  description = "GCP project ID everything is created in (PROJECT_ID in env.sh)."
}

variable "region" {
  type        = string
  description = "Region of the bucket, the registries, Vertex AI and Dataflow (REGION in env.sh)."
}

variable "env" {
  type        = string
  description = "Environment name (dev, prod, ...), a suffix of every resource name."

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{0,7}$", var.env))
    error_message = "env must be 1-8 lowercase letters/digits starting with a letter (it is part of resource names)."
  }
}

variable "bucket_name" {
  type        = string
  description = "Pipeline bucket name; null = <project_id>-tinysign-<env>."
  default     = null
}

variable "force_destroy" {
  type        = bool
  description = "Let `make undeploy` delete the bucket with its contents (dev only)."
  default     = false
}

variable "max_noncurrent_versions" {
  type        = number
  description = "Noncurrent versions kept per bucket object."
  default     = 3
}

variable "noncurrent_retention_days" {
  type        = number
  description = "Days a noncurrent bucket object version is kept."
  default     = 30
}

variable "temp_retention_days" {
  type        = number
  description = "Days Dataflow temp/staging and tmp/ objects are kept."
  default     = 7
}

variable "keep_recent_images" {
  type        = number
  description = "Most recent image versions the registry cleanup policy always keeps."
  default     = 20
}

variable "launch_dataflow_jobs" {
  type        = bool
  description = "Let pipeline tasks launch Dataflow extraction jobs (grants roles/dataflow.developer)."
  default     = true
}

variable "submitter_members" {
  type        = list(string)
  description = "IAM members allowed to submit runs as the pipeline service account (user:, group:, serviceAccount:)."
  default     = []
}

variable "enable_ci_identity" {
  type        = bool
  description = "Create the Cloud Build service account that pushes images and pipeline templates."
  default     = true
}

variable "enable_schedule" {
  type        = bool
  description = "Create a Cloud Scheduler job that starts a retraining run on a cron."
  default     = false
}

variable "pipeline_name" {
  type        = string
  description = "Name of the compiled pipeline (pipelineInfo.name) in the KFP template repository."
  default     = "tinysign-training"
}

variable "schedule_cron" {
  type        = string
  description = "Unix cron (5 fields) of the retraining runs."
  default     = "0 3 * * 1"
}

variable "schedule_time_zone" {
  type        = string
  description = "IANA time zone of schedule_cron."
  default     = "Etc/UTC"
}

variable "schedule_template_tag" {
  type        = string
  description = "Tag of the pipeline template the scheduled runs use (CI tags uploads with the commit and the branch)."
  default     = "main"
}

variable "schedule_parameter_values" {
  type        = map(any)
  description = "Pipeline parameter values of scheduled runs (empty = the pipeline's defaults)."
  default     = {}
}

variable "kms_key_name" {
  type        = string
  description = "Cloud KMS key for the bucket and registries (null = Google-managed encryption)."
  default     = null
}

variable "labels" {
  type        = map(string)
  description = "Extra labels for every labelled resource."
  default     = {}
}
