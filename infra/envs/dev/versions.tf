terraform {
  required_version = ">= 1.5.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.0, < 8.0"
    }
  }

  # State lives in a pre-existing, versioned GCS bucket given at init time
  # (infra/deploy.sh: terraform init -backend-config="bucket=$TF_STATE_BUCKET").
  backend "gcs" {
    prefix = "tinysign/dev"
  }
}

provider "google" {
  project = var.project_id
  region  = var.region

  default_labels = {
    managed-by = "terraform"
  }
}
