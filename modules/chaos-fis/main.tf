data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name
  account_id = data.aws_caller_identity.current.account_id

  opt_in_tag_key   = keys(var.opt_in_tag)[0]
  opt_in_tag_value = values(var.opt_in_tag)[0]

  # Instances FIS may select: opted in AND launched for this compute environment
  # (modules/batch-compute puts both tags in compute_resources.tags, which Batch copies to the
  # instances; Batch's own AWSBatchServiceTag does not name the compute environment).
  target_tags = merge(var.opt_in_tag, { "spotkit:compute-environment" = var.compute_environment_name })

  create_alarm = var.create && var.create_stop_condition_alarm
  alarm_arns   = concat(var.stop_condition_alarm_arns, aws_cloudwatch_metric_alarm.stop[*].arn)

  # FIS requires at least one stop condition; "none" is the explicit "no guard rail" entry.
  stop_conditions = length(local.alarm_arns) > 0 ? [
    for arn in local.alarm_arns : { Source = "aws:cloudwatch:alarm", Value = arn }
  ] : [{ Source = "none" }]

  # AWS::FIS::ExperimentTemplate properties of each template, all but RoleArn (known only after the
  # role exists); output experiment_templates shows them and the tests read them from the plan.
  template_names = ["spot-interruption", "terminate-instance"]
  templates = {
    spot-interruption = {
      Description = "Spot interruption notice (${var.duration_before_interruption} ahead) to ${var.selection_mode} running opted-in Spot instance(s) of ${var.compute_environment_name}"
      Targets = {
        SpotInstances = {
          ResourceType  = "aws:ec2:spot-instance"
          ResourceTags  = local.target_tags
          Filters       = [{ Path = "State.Name", Values = ["running"] }]
          SelectionMode = var.selection_mode
        }
      }
      Actions = {
        spot-interruption = {
          ActionId    = "aws:ec2:send-spot-instance-interruptions"
          Description = "Spot interruption notice, then the interruption (the Batch attempt ends: Host EC2 (instance i-...) terminated.)"
          Parameters  = { durationBeforeInterruption = var.duration_before_interruption }
          Targets     = { SpotInstances = "SpotInstances" }
        }
      }
      StopConditions = local.stop_conditions
      Tags           = merge(var.tags, { Name = "${var.name}-spot-interruption" })
    }
    terminate-instance = {
      Description = "Terminate ${var.selection_mode} running opted-in instance(s) of ${var.compute_environment_name} without notice"
      Targets = {
        Instances = {
          ResourceType  = "aws:ec2:instance"
          ResourceTags  = local.target_tags
          Filters       = [{ Path = "State.Name", Values = ["running"] }]
          SelectionMode = var.selection_mode
        }
      }
      Actions = {
        terminate-instance = {
          ActionId    = "aws:ec2:terminate-instances"
          Description = "Terminate the instance(s) at once, without an interruption notice"
          Targets     = { Instances = "Instances" }
        }
      }
      StopConditions = local.stop_conditions
      Tags           = merge(var.tags, { Name = "${var.name}-terminate-instance" })
    }
  }
}

################################################################################
# IAM: the role FIS assumes to run the experiments
# https://docs.aws.amazon.com/fis/latest/userguide/getting-started-iam-service-role.html
################################################################################

data "aws_iam_policy_document" "assume" {
  count = var.create ? 1 : 0

  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["fis.amazonaws.com"]
    }
    # Confused-deputy guard: only experiments of this account may use the role.
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "fis" {
  count = var.create ? 1 : 0

  name                 = "${var.name}-fis"
  path                 = var.iam_role_path
  description          = "AWS FIS role of ${var.name}: interrupts/terminates only instances tagged ${local.opt_in_tag_key} = ${local.opt_in_tag_value}"
  assume_role_policy   = data.aws_iam_policy_document.assume[0].json
  permissions_boundary = var.iam_role_permissions_boundary
  tags                 = var.tags
}

data "aws_iam_policy_document" "fis" {
  count = var.create ? 1 : 0

  # Safe by design: whatever a template selects, FIS can only act on opted-in instances of this
  # account and Region. Removing the condition would let an experiment hit any instance.
  statement {
    sid       = "InterruptOrTerminateOptedInInstancesOnly"
    actions   = ["ec2:SendSpotInstanceInterruptions", "ec2:TerminateInstances"]
    resources = ["arn:${local.partition}:ec2:${local.region}:${local.account_id}:instance/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/${local.opt_in_tag_key}"
      values   = [local.opt_in_tag_value]
    }
  }

  # FIS resolves tag-selected targets with DescribeInstances (no resource-level permissions).
  statement {
    sid       = "ResolveTargets"
    actions   = ["ec2:DescribeInstances"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "fis" {
  count = var.create ? 1 : 0

  name   = "${var.name}-fis"
  role   = aws_iam_role.fis[0].id
  policy = data.aws_iam_policy_document.fis[0].json
}

################################################################################
# Stop-condition alarm (optional)
################################################################################

resource "aws_cloudwatch_metric_alarm" "stop" {
  count = local.create_alarm ? 1 : 0

  alarm_name          = "${var.name}-stop"
  alarm_description   = "Stops the ${var.name} FIS experiments: ${var.stop_condition_queue_name} holds messages (the resubmit pipeline gave up on a job)."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = var.stop_condition_queue_name }
  statistic           = "Maximum"
  period              = var.stop_condition_alarm_period_seconds
  evaluation_periods  = 1
  threshold           = var.stop_condition_alarm_threshold
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.stop_condition_alarm_actions
  ok_actions          = var.stop_condition_alarm_actions
  tags                = var.tags
}

################################################################################
# Experiment templates: one CloudFormation stack each (hashicorp/aws 3.39 has no
# aws_fis_experiment_template; see README)
# https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-fis-experimenttemplate.html
################################################################################

resource "aws_cloudformation_stack" "template" {
  #checkov:skip=CKV_AWS_124:Terraform creates, updates and deletes this one-resource stack and fails the apply on a stack failure (on_failure = DELETE); stack-event notifications would only repeat Terraform's own output.
  for_each = toset(var.create ? local.template_names : [])

  name       = "${var.name}-${each.key}"
  on_failure = "DELETE"
  template_body = jsonencode({
    AWSTemplateFormatVersion = "2010-09-09"
    Description              = "FIS experiment template ${var.name}-${each.key} (managed by Terraform, module chaos-fis)"
    Resources = {
      ExperimentTemplate = {
        Type       = "AWS::FIS::ExperimentTemplate"
        Properties = merge(local.templates[each.key], { RoleArn = aws_iam_role.fis[0].arn })
      }
    }
    Outputs = {
      # Ref of an AWS::FIS::ExperimentTemplate is its ID (EXT...).
      TemplateId = { Value = { Ref = "ExperimentTemplate" } }
    }
  })
  tags = var.tags

  # Create the templates after the role's policy: an experiment started right after apply must
  # find the permissions in place.
  depends_on = [aws_iam_role_policy.fis]
}
