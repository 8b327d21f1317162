# prod: the bucket survives `make undeploy` unless emptied first, longer retention, and (optional)
# weekly retraining from the template CI uploaded with tag "main".
module "tinysign" {
  source = "../../modules/tinysign"

  project_id                = var.project_id
  region                    = var.region
  env                       = "prod"
  force_destroy             = false
  noncurrent_retention_days = 90
  max_noncurrent_versions   = 5
  keep_recent_images        = 30
  submitter_members         = var.submitter_members
  enable_schedule           = var.enable_schedule
  schedule_cron             = var.schedule_cron
  schedule_template_tag     = "main"
}
