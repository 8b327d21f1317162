# Enables the Google APIs the pipeline needs. Disabling on destroy is off: other workloads in the
# project may use the same APIs, and re-enabling is slow.
resource "google_project_service" "this" {
  for_each = toset(var.services)

  project                    = var.project_id
  service                    = each.value
  disable_on_destroy         = false
  disable_dependent_services = false
}
