output "spot_compute_environment_arn" {
  description = "ARN of the Spot compute environment."
  value       = try(aws_batch_compute_environment.spot[0].arn, null)
}

output "spot_compute_environment_name" {
  description = "Name of the Spot compute environment."
  value       = try(aws_batch_compute_environment.spot[0].compute_environment_name, null)
}

output "spot_allocation_strategy" {
  description = "Allocation strategy of the Spot compute environment (BEST_FIT: Spot Fleet; the others: EC2 Auto Scaling group)."
  value       = try(aws_batch_compute_environment.spot[0].compute_resources[0].allocation_strategy, null)
}

output "chaos_opt_in" {
  description = "Whether the Spot compute environment and its instances carry chaos_opt_in_tag."
  value       = var.create && var.chaos_opt_in
}

output "chaos_opt_in_tag" {
  description = "The chaos opt-in tag (a map of one key), set on the Spot compute environment and its instances when chaos_opt_in is true."
  value       = local.chaos_opt_in_tag
}

output "spot_ecs_cluster_arn" {
  description = "ARN of the ECS cluster Batch created for the Spot compute environment."
  value       = try(aws_batch_compute_environment.spot[0].ecs_cluster_arn, null)
}

output "on_demand_compute_environment_arn" {
  description = "ARN of the on-demand compute environment (null when not created)."
  value       = try(aws_batch_compute_environment.on_demand[0].arn, null)
}

output "on_demand_compute_environment_name" {
  description = "Name of the on-demand compute environment (null when not created)."
  value       = try(aws_batch_compute_environment.on_demand[0].compute_environment_name, null)
}

output "on_demand_ecs_cluster_arn" {
  description = "ARN of the ECS cluster of the on-demand compute environment (null when not created)."
  value       = try(aws_batch_compute_environment.on_demand[0].ecs_cluster_arn, null)
}

output "service_role_arn" {
  description = "ARN of the Batch service role in use (created or passed in; null means the service-linked role)."
  value       = local.service_role_arn
}

output "instance_role_arn" {
  description = "ARN of the ECS instance role created by this module (null when an instance profile was passed in)."
  value       = try(aws_iam_role.instance[0].arn, null)
}

output "instance_profile_arn" {
  description = "ARN of the ECS instance profile in use."
  value       = local.instance_profile_arn
}

output "spot_fleet_role_arn" {
  description = "ARN of the Spot Fleet role in use (null unless allocation_strategy is BEST_FIT)."
  value       = local.uses_spot_fleet ? local.spot_fleet_role_arn : null
}
