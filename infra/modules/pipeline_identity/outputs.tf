output "email" {
  description = "Pipeline service account email (SERVICE_ACCOUNT in env.sh)."
  value       = google_service_account.pipeline.email
}

output "name" {
  description = "Fully qualified service account resource name."
  value       = google_service_account.pipeline.name
}
