output "fis_role_arn" {
  description = "ARN of the role the experiment templates run with (null when not created)."
  value       = try(aws_iam_role.fis[0].arn, null)
}

output "spot_interruption_template_id" {
  description = "ID (EXT...) of the \"spot-interruption\" experiment template: `aws fis start-experiment --experiment-template-id <id>` (null when not created)."
  value       = try(aws_fis_experiment_template.this["spot-interruption"].id, null)
}

output "terminate_instance_template_id" {
  description = "ID (EXT...) of the \"terminate-instance\" experiment template (null when not created)."
  value       = try(aws_fis_experiment_template.this["terminate-instance"].id, null)
}

output "template_ids" {
  description = "IDs (EXT...) of the experiment templates, by template name (spot-interruption, terminate-instance)."
  value       = { for k, t in aws_fis_experiment_template.this : k => t.id }
}

output "experiment_templates" {
  description = "What each experiment template holds, by template name: description, target (name, resource_type; selected by target_resource_tags, State.Name running and selection_mode), action (name, action_id, description, target_key, parameters), stop_conditions (source, value); the role is fis_role_arn."
  value       = var.create ? { for k, t in local.templates : k => merge(t, { selection_mode = var.selection_mode, stop_conditions = local.stop_conditions }) } : null
}

output "opt_in_tag" {
  description = "The tag (map of one key) an instance must carry for these experiments to act on it."
  value       = var.opt_in_tag
}

output "target_resource_tags" {
  description = "The tags the templates select instances by: opt_in_tag plus spotkit:compute-environment."
  value       = local.target_tags
}

output "stop_condition_alarm_arn" {
  description = "ARN of the stop-condition alarm this module created (null when create_stop_condition_alarm is false)."
  value       = try(aws_cloudwatch_metric_alarm.stop[0].arn, null)
}

output "stop_condition_alarm_arns" {
  description = "Every alarm ARN the templates stop on (passed in plus created); empty means the templates have the single stop condition {source = none}."
  value       = var.create ? local.alarm_arns : []
}
