variable "project_id" {
  type        = string
  description = "GCP project ID of the scheduler job and the pipeline runs."
}

variable "region" {
  type        = string
  description = "Region of the scheduler job and of Vertex AI Pipelines."
}

variable "name" {
  type        = string
  description = "Cloud Scheduler job name."
}

variable "cron" {
  type        = string
  description = "Unix cron (5 fields) of the retraining runs, e.g. \"0 3 * * 1\" (Mondays 03:00)."

  validation {
    condition     = length(split(" ", trimspace(var.cron))) == 5
    error_message = "cron must have 5 fields (minute hour day-of-month month day-of-week)."
  }
}

variable "time_zone" {
  type        = string
  description = "IANA time zone the cron is read in."
  default     = "Etc/UTC"
}

variable "template_uri" {
  type        = string
  description = "Pipeline template: https://<region>-kfp.pkg.dev/<project>/<repo>/<pipeline name>/<tag>."
}

variable "service_account_email" {
  type        = string
  description = "Account the scheduler authenticates as and the pipeline runs as (needs aiplatform.user)."
}

variable "pipeline_root" {
  type        = string
  description = "gs:// pipeline root for the runs' artifacts."
}

variable "parameter_values" {
  type        = map(any)
  description = "Pipeline parameter values of each run (empty = the pipeline's defaults)."
  default     = {}
}

variable "display_name" {
  type        = string
  description = "Display name of each PipelineJob."
  default     = "tinysign-retrain"
}

variable "labels" {
  type        = map(string)
  description = "Labels put on each PipelineJob."
  default     = {}
}
