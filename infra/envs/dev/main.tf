# dev: throwaway — the bucket may be destroyed with its contents, short retention, no schedule.
module "tinysign" {
  source = "../../modules/tinysign"

  project_id                = var.project_id
  region                    = var.region
  env                       = "dev"
  force_destroy             = true
  noncurrent_retention_days = 7
  max_noncurrent_versions   = 1
  keep_recent_images        = 5
  submitter_members         = var.submitter_members
  enable_schedule           = false
}
