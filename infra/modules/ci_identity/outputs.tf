output "email" {
  description = "CI service account email (pass to the Cloud Build trigger: --service-account)."
  value       = google_service_account.ci.email
}
