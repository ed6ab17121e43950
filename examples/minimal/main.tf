provider "aws" {
  region = var.region
}

# Only the required inputs: every grouped setting (compute, job_queue, resubmit, chaos) keeps the
# child modules' defaults.
module "spotkit" {
  source = "../../modules/spotkit-stack"

  name               = var.name
  subnet_ids         = var.subnet_ids
  security_group_ids = var.security_group_ids
  lambda_zip_path    = var.lambda_zip_path

  job_definition = {
    image = var.image
  }
}
