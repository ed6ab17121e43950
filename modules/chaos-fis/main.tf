data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition = data.aws_partition.current.partition
  # The data source's id is the Region name on hashicorp/aws 5.x and 6.x; its `name` attribute is
  # deprecated in 6.x (replaced by `region`, which 5.x lacks).
  region     = data.aws_region.current.id
  account_id = data.aws_caller_identity.current.account_id

  opt_in_tag_key   = keys(var.opt_in_tag)[0]
  opt_in_tag_value = values(var.opt_in_tag)[0]

  # Instances FIS may select: opted in AND launched for this compute environment
  # (modules/batch-compute puts both tags in compute_resources.tags, which Batch copies to the
  # instances; Batch's own AWSBatchServiceTag does not name the compute environment).
  target_tags = merge(var.opt_in_tag, { "spotkit:compute-environment" = var.compute_environment_readable_name })

  create_alarm = var.create && var.create_stop_condition_alarm
  alarm_arns   = concat(var.stop_condition_alarm_arns, aws_cloudwatch_metric_alarm.stop[*].arn)

  # FIS requires at least one stop condition; "none" is the explicit "no guard rail" entry.
  stop_conditions = length(local.alarm_arns) > 0 ? [
    for arn in local.alarm_arns : { source = "aws:cloudwatch:alarm", value = arn }
  ] : [{ source = "none", value = null }]

  # Each template: one target, one action on it. Output experiment_templates shows them and the
  # tests read them from the plan.
  templates = {
    spot-interruption = {
      description = "Spot interruption notice (${var.duration_before_interruption} ahead) to ${var.selection_mode} running opted-in Spot instance(s) of ${var.compute_environment_readable_name}"
      target = {
        name          = "SpotInstances"
        resource_type = "aws:ec2:spot-instance"
      }
      action = {
        name        = "spot-interruption"
        action_id   = "aws:ec2:send-spot-instance-interruptions"
        description = "Spot interruption notice, then the interruption (the Batch attempt ends: Host EC2 (instance i-...) terminated.)"
        target_key  = "SpotInstances"
        parameters  = { durationBeforeInterruption = var.duration_before_interruption }
      }
    }
    terminate-instance = {
      description = "Terminate ${var.selection_mode} running opted-in instance(s) of ${var.compute_environment_readable_name} without notice"
      target = {
        name          = "Instances"
        resource_type = "aws:ec2:instance"
      }
      action = {
        name        = "terminate-instance"
        action_id   = "aws:ec2:terminate-instances"
        description = "Terminate the instance(s) at once, without an interruption notice"
        target_key  = "Instances"
        parameters  = {}
      }
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
# Experiment templates
# https://docs.aws.amazon.com/fis/latest/userguide/experiment-templates.html
################################################################################

resource "aws_fis_experiment_template" "this" {
  for_each = var.create ? local.templates : {}

  description = each.value.description
  role_arn    = aws_iam_role.fis[0].arn

  target {
    name           = each.value.target.name
    resource_type  = each.value.target.resource_type
    selection_mode = var.selection_mode

    dynamic "resource_tag" {
      for_each = local.target_tags
      content {
        key   = resource_tag.key
        value = resource_tag.value
      }
    }

    filter {
      path   = "State.Name"
      values = ["running"]
    }
  }

  action {
    name        = each.value.action.name
    action_id   = each.value.action.action_id
    description = each.value.action.description

    target {
      key   = each.value.action.target_key # the action's target key (FIS actions reference)
      value = each.value.target.name
    }

    dynamic "parameter" {
      for_each = each.value.action.parameters
      content {
        key   = parameter.key
        value = parameter.value
      }
    }
  }

  dynamic "stop_condition" {
    for_each = local.stop_conditions
    content {
      source = stop_condition.value.source
      value  = stop_condition.value.value
    }
  }

  tags = merge(var.tags, { Name = "${var.name}-${each.key}" })

  # Create the templates after the role's policy: an experiment started right after apply must
  # find the permissions in place.
  depends_on = [aws_iam_role_policy.fis]
}
