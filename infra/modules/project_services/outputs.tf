output "services" {
  description = "The enabled API service names (depend on this output to wait for them)."
  value       = [for s in google_project_service.this : s.service]
}
