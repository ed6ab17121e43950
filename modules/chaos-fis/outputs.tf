output "fis_role_arn" {
  description = "ARN of the role the experiment templates run with (null when not created)."
  value       = try(aws_iam_role.fis[0].arn, null)
}

output "spot_interruption_template_id" {
  description = "ID (EXT...) of the \"spot-interruption\" experiment template: `aws fis start-experiment --experiment-template-id <id>` (null when not created)."
  value       = try(aws_cloudformation_stack.template["spot-interruption"].outputs["TemplateId"], null)
}

output "terminate_instance_template_id" {
  description = "ID (EXT...) of the \"terminate-instance\" experiment template (null when not created)."
  value       = try(aws_cloudformation_stack.template["terminate-instance"].outputs["TemplateId"], null)
}

output "template_stack_ids" {
  description = "IDs of the CloudFormation stacks holding the experiment templates, by template name."
  value       = { for k, s in aws_cloudformation_stack.template : k => s.id }
}

output "experiment_templates" {
  description = "AWS::FIS::ExperimentTemplate properties of each template (Description, Targets, Actions, StopConditions, Tags; RoleArn is fis_role_arn), by template name."
  value       = var.create ? local.templates : null
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
