variable "project_id" {
  type        = string
  description = "GCP project ID in which the APIs are enabled."
}

variable "services" {
  type        = list(string)
  description = "API service names to enable, e.g. aiplatform.googleapis.com."

  validation {
    condition     = alltrue([for s in var.services : endswith(s, ".googleapis.com")])
    error_message = "Each service must be an API name ending in .googleapis.com."
  }
}
