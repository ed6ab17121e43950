# Environment "dev" on AWS. backend.tf (S3), providers.tf and terraform.tfvars.json are rendered
# from settings.yaml by `spotkit env render --env dev` (git-ignored); edit settings.yaml, not them.

terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.77.0, < 7.0"
    }
  }
}

module "spotkit" {
  source = "../../modules/spotkit-stack"

  name               = var.name
  tags               = var.tags
  subnet_ids         = var.subnet_ids
  security_group_ids = var.security_group_ids
  lambda_zip_path    = var.lambda_zip_path
  compute            = var.compute
  job_queue          = var.job_queue
  job_definition     = var.job_definition
  resubmit           = var.resubmit
  chaos              = var.chaos
}
