output "job_id" {
  description = "Cloud Scheduler job ID."
  value       = google_cloud_scheduler_job.retrain.id
}
