# terraform test (Terraform >= 1.7): plans against a mocked hashicorp/aws, no AWS account.
# tests/test_terraform_test.py runs it from make test.

mock_provider "aws" {
  mock_data "aws_partition" {
    defaults = {
      partition = "aws"
    }
  }
  mock_data "aws_region" {
    defaults = {
      id   = "us-east-1"
      name = "us-east-1"
    }
  }
  mock_data "aws_caller_identity" {
    defaults = {
      account_id = "123456789012"
    }
  }
  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }
}

variables {
  name                              = "kit-chaos"
  compute_environment_readable_name = "kit-spot"
}

run "two_templates_on_opted_in_instances" {
  command = plan

  assert {
    condition     = keys(aws_fis_experiment_template.this) == ["spot-interruption", "terminate-instance"]
    error_message = "Two experiment templates: spot-interruption and terminate-instance."
  }
  assert {
    condition = alltrue([for t in aws_fis_experiment_template.this :
      { for rt in one(t.target).resource_tag : rt.key => rt.value } == { "spotkit:chaos" = "opt-in", "spotkit:compute-environment" = "kit-spot" }
    ])
    error_message = "Both templates select instances by the opt-in tag and spotkit:compute-environment = kit-spot."
  }
  assert {
    condition = alltrue([for t in aws_fis_experiment_template.this :
      one(t.target).selection_mode == "COUNT(1)" && one(one(t.target).filter).path == "State.Name" && jsonencode(one(one(t.target).filter).values) == jsonencode(["running"])
    ])
    error_message = "Both templates act on one running instance by default."
  }
  assert {
    condition = (
      one(aws_fis_experiment_template.this["spot-interruption"].target).resource_type == "aws:ec2:spot-instance" &&
      one(aws_fis_experiment_template.this["spot-interruption"].action).action_id == "aws:ec2:send-spot-instance-interruptions" &&
      one(one(aws_fis_experiment_template.this["spot-interruption"].action).target).key == "SpotInstances" &&
      { for p in one(aws_fis_experiment_template.this["spot-interruption"].action).parameter : p.key => p.value } == { durationBeforeInterruption = "PT2M" }
    )
    error_message = "spot-interruption: aws:ec2:send-spot-instance-interruptions on aws:ec2:spot-instance targets, 2 minutes' notice."
  }
  assert {
    condition = (
      one(aws_fis_experiment_template.this["terminate-instance"].target).resource_type == "aws:ec2:instance" &&
      one(aws_fis_experiment_template.this["terminate-instance"].action).action_id == "aws:ec2:terminate-instances" &&
      one(one(aws_fis_experiment_template.this["terminate-instance"].action).target).key == "Instances" &&
      length(one(aws_fis_experiment_template.this["terminate-instance"].action).parameter) == 0
    )
    error_message = "terminate-instance: aws:ec2:terminate-instances on aws:ec2:instance targets, no parameters."
  }
  assert {
    condition = alltrue([for t in aws_fis_experiment_template.this :
      length(t.stop_condition) == 1 && one(t.stop_condition).source == "none" && one(t.stop_condition).value == null
    ])
    error_message = "Without alarms each template has the single stop condition source = none."
  }
  assert {
    condition     = length(aws_cloudwatch_metric_alarm.stop) == 0
    error_message = "No stop-condition alarm unless create_stop_condition_alarm."
  }
}

run "role_acts_only_on_opted_in_instances" {
  command = plan

  assert {
    condition = (
      data.aws_iam_policy_document.fis[0].statement[0].actions == toset(["ec2:SendSpotInstanceInterruptions", "ec2:TerminateInstances"]) &&
      data.aws_iam_policy_document.fis[0].statement[0].resources == toset(["arn:aws:ec2:us-east-1:123456789012:instance/*"])
    )
    error_message = "Interrupt/terminate only instances of this account and Region."
  }
  assert {
    condition = jsonencode(data.aws_iam_policy_document.fis[0].statement[0].condition) == jsonencode([
      { test = "StringEquals", values = ["opt-in"], variable = "aws:ResourceTag/spotkit:chaos" },
    ])
    error_message = "The destructive actions need the opt-in tag on the instance."
  }
  assert {
    condition     = data.aws_iam_policy_document.fis[0].statement[1].actions == toset(["ec2:DescribeInstances"])
    error_message = "Besides the destructive pair, the role may only describe instances."
  }
  assert {
    condition = jsonencode(data.aws_iam_policy_document.assume[0].statement[0].condition) == jsonencode([
      { test = "StringEquals", values = ["123456789012"], variable = "aws:SourceAccount" },
    ])
    error_message = "Only FIS experiments of this account may assume the role (aws:SourceAccount)."
  }
}

run "alarms_become_stop_conditions" {
  command = plan

  variables {
    stop_condition_alarm_arns = ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:slo"]
    selection_mode            = "PERCENT(50)"
  }

  assert {
    condition = alltrue([for t in aws_fis_experiment_template.this :
      length(t.stop_condition) == 1 && one(t.stop_condition).source == "aws:cloudwatch:alarm" && one(t.stop_condition).value == "arn:aws:cloudwatch:us-east-1:123456789012:alarm:slo"
    ])
    error_message = "Each alarm ARN is an aws:cloudwatch:alarm stop condition, and \"none\" goes."
  }
  assert {
    condition     = alltrue([for t in aws_fis_experiment_template.this : one(t.target).selection_mode == "PERCENT(50)"])
    error_message = "selection_mode is passed to both targets."
  }
}

run "created_alarm_watches_the_queue" {
  command = plan

  variables {
    create_stop_condition_alarm = true
    stop_condition_queue_name   = "kit-resubmit-dlq"
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.stop[0].dimensions["QueueName"] == "kit-resubmit-dlq" && aws_cloudwatch_metric_alarm.stop[0].threshold == 1
    error_message = "The created alarm fires on one visible message in the queue."
  }
  assert {
    condition     = alltrue([for t in aws_fis_experiment_template.this : length(t.stop_condition) == 1 && one(t.stop_condition).source == "aws:cloudwatch:alarm"])
    error_message = "The created alarm is the templates' stop condition."
  }
}

run "rejects_unsafe_inputs" {
  command = plan

  variables {
    selection_mode               = "COUNT(0)"
    duration_before_interruption = "PT1M"
    opt_in_tag                   = { "aws:chaos" = "opt-in" }
    stop_condition_alarm_arns    = ["not-an-arn"]
  }

  expect_failures = [var.selection_mode, var.duration_before_interruption, var.opt_in_tag, var.stop_condition_alarm_arns]
}
