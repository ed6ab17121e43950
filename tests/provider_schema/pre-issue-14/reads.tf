# PRE-ISSUE-14 SHAPE (test fixture): reads of the renamed CE name (modules/batch-compute/outputs.tf) and
# of data.aws_region.current.name (modules/spot-resubmit/main.tf, modules/chaos-fis/main.tf) as of 42a5d48.

output "spot_compute_environment_name" {
  description = "Name of the Spot compute environment."
  value       = try(aws_batch_compute_environment.spot[0].compute_environment_name, null)
}

output "on_demand_compute_environment_name" {
  description = "Name of the on-demand compute environment (null when not created)."
  value       = try(aws_batch_compute_environment.on_demand[0].compute_environment_name, null)
}

data "aws_region" "current" {}

locals {
  region = data.aws_region.current.name
}
