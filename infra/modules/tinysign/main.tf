# Everything tinysign needs in one GCP project, composed from the small modules beside this one.
# An env root (infra/envs/<env>) calls this module once with that env's settings.
locals {
  suffix        = "-${var.env}"
  bucket_name   = coalesce(var.bucket_name, "${var.project_id}-tinysign${local.suffix}")
  pipeline_root = "gs://${local.bucket_name}/pipeline_root"
  labels        = merge({ app = "tinysign", env = var.env }, var.labels)

  services = concat(
    [
      "aiplatform.googleapis.com",
      "artifactregistry.googleapis.com",
      "cloudresourcemanager.googleapis.com",
      "compute.googleapis.com",
      "dataflow.googleapis.com",
      "iam.googleapis.com",
      "iamcredentials.googleapis.com",
      "logging.googleapis.com",
      "storage.googleapis.com",
    ],
    var.enable_ci_identity ? ["cloudbuild.googleapis.com"] : [],
    var.enable_schedule ? ["cloudscheduler.googleapis.com"] : [],
  )
}

module "apis" {
  source = "../project_services"

  project_id = var.project_id
  services   = local.services
}

module "bucket" {
  source = "../storage"

  project_id                = var.project_id
  name                      = local.bucket_name
  location                  = var.region
  force_destroy             = var.force_destroy
  max_noncurrent_versions   = var.max_noncurrent_versions
  noncurrent_retention_days = var.noncurrent_retention_days
  temp_retention_days       = var.temp_retention_days
  kms_key_name              = var.kms_key_name
  labels                    = local.labels

  depends_on = [module.apis]
}

module "registry" {
  source = "../artifact_registry"

  project_id             = var.project_id
  region                 = var.region
  docker_repository_id   = "tinysign${local.suffix}"
  pipeline_repository_id = "tinysign-pipelines${local.suffix}"
  keep_recent_images     = var.keep_recent_images
  kms_key_name           = var.kms_key_name
  labels                 = local.labels

  depends_on = [module.apis]
}

module "pipeline_identity" {
  source = "../pipeline_identity"

  project_id           = var.project_id
  region               = var.region
  account_id           = "tinysign-pipeline${local.suffix}"
  bucket_name          = module.bucket.name
  image_repository_id  = module.registry.docker_repository_id
  launch_dataflow_jobs = var.launch_dataflow_jobs
  submitter_members    = var.submitter_members

  depends_on = [module.apis]
}

module "ci_identity" {
  source = "../ci_identity"
  count  = var.enable_ci_identity ? 1 : 0

  project_id     = var.project_id
  region         = var.region
  account_id     = "tinysign-ci${local.suffix}"
  repository_ids = [module.registry.docker_repository_id, module.registry.pipeline_repository_id]

  depends_on = [module.apis]
}

module "schedule" {
  source = "../schedule"
  count  = var.enable_schedule ? 1 : 0

  project_id            = var.project_id
  region                = var.region
  name                  = "tinysign-retrain${local.suffix}"
  cron                  = var.schedule_cron
  time_zone             = var.schedule_time_zone
  template_uri          = "${module.registry.pipeline_repo_url}/${var.pipeline_name}/${var.schedule_template_tag}"
  service_account_email = module.pipeline_identity.email
  pipeline_root         = local.pipeline_root
  parameter_values      = var.schedule_parameter_values
  labels                = local.labels

  depends_on = [module.apis]
}
