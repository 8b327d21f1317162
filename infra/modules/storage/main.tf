# The pipeline bucket: pipeline root (KFP artifacts), Dataflow staging/temp, exported models.
# Uniform bucket-level access (IAM only, no ACLs), public access prevention enforced, object
# versioning so an overwritten model can be recovered, and lifecycle rules that bound the cost of
# that versioning and of temporary files.
resource "google_storage_bucket" "this" {
  #checkov:skip=CKV_GCP_62:Usage/storage logs are a legacy feature; object access is audited with Cloud Audit Logs (Data Access logs), not with a second log bucket.
  name                        = var.name
  project                     = var.project_id
  location                    = var.location
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = var.force_destroy
  labels                      = var.labels

  versioning {
    enabled = true
  }

  # Noncurrent (overwritten or deleted) versions: keep at most N newer versions ...
  lifecycle_rule {
    condition {
      num_newer_versions = var.max_noncurrent_versions
      with_state         = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  # ... and none older than the retention period.
  lifecycle_rule {
    condition {
      days_since_noncurrent_time = var.noncurrent_retention_days
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  # Temporary prefixes (Dataflow temp/staging, scratch) are deleted after a few days.
  lifecycle_rule {
    condition {
      age            = var.temp_retention_days
      matches_prefix = var.temp_prefixes
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      age = 1
    }
    action {
      type = "AbortIncompleteMultipartUpload"
    }
  }

  dynamic "encryption" {
    for_each = var.kms_key_name == null ? [] : [var.kms_key_name]
    content {
      default_kms_key_name = encryption.value
    }
  }
}
