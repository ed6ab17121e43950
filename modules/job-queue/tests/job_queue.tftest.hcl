# terraform test (Terraform >= 1.7): plans against a mocked hashicorp/aws, no AWS account.
# tests/test_terraform_test.py runs it from make test.

mock_provider "aws" {}

variables {
  name = "kit-spot"
  compute_environment_arns = [
    "arn:aws:batch:us-east-1:123456789012:compute-environment/spot",
    "arn:aws:batch:us-east-1:123456789012:compute-environment/ondemand",
  ]
}

run "compute_environments_in_the_given_order" {
  command = plan

  assert {
    condition     = length(aws_batch_job_queue.this[0].compute_environment_order) == 2
    error_message = "Expected one compute_environment_order block per ARN."
  }
  assert {
    condition = [for o in aws_batch_job_queue.this[0].compute_environment_order : [o.order, o.compute_environment]] == [
      [0, "arn:aws:batch:us-east-1:123456789012:compute-environment/spot"],
      [1, "arn:aws:batch:us-east-1:123456789012:compute-environment/ondemand"],
    ]
    error_message = "compute_environment_order must follow compute_environment_arns: Spot (order 0) first, on-demand (order 1) second."
  }
  assert {
    condition     = aws_batch_job_queue.this[0].tags["Name"] == "kit-spot" && aws_batch_job_queue.this[0].priority == 1 && aws_batch_job_queue.this[0].state == "ENABLED"
    error_message = "Defaults: Name tag, priority 1, ENABLED."
  }
}

run "default_runnable_time_limits" {
  command = plan

  assert {
    condition = { for a in aws_batch_job_queue.this[0].job_state_time_limit_action : a.reason => [a.action, a.state, a.max_time_seconds] } == {
      "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY"           = ["CANCEL", "RUNNABLE", 3600]
      "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE" = ["CANCEL", "RUNNABLE", 600]
      "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT"         = ["CANCEL", "RUNNABLE", 600]
    }
    error_message = "Default RUNNABLE time limits: cancel after 1 h for capacity, 10 min for each misconfiguration."
  }
}

run "time_limits_off" {
  command = plan

  variables {
    runnable_time_limit_actions = []
  }

  assert {
    condition     = length(aws_batch_job_queue.this[0].job_state_time_limit_action) == 0
    error_message = "[] must turn the RUNNABLE time limits off."
  }
}

run "create_false_creates_nothing" {
  command = plan

  variables {
    create = false
  }

  assert {
    condition     = length(aws_batch_job_queue.this) == 0 && output.arn == null
    error_message = "create = false must plan no job queue."
  }
}

run "rejects_max_time_seconds_599" {
  command = plan

  variables {
    runnable_time_limit_actions = [{ reason = "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY", max_time_seconds = 599 }]
  }

  expect_failures = [var.runnable_time_limit_actions]
}

run "rejects_an_unknown_reason" {
  command = plan

  variables {
    runnable_time_limit_actions = [{ reason = "CAPACITY:SPOT_GONE", max_time_seconds = 3600 }]
  }

  expect_failures = [var.runnable_time_limit_actions]
}

run "rejects_a_fourth_compute_environment" {
  command = plan

  variables {
    compute_environment_arns = ["a", "b", "c", "d"]
  }

  expect_failures = [var.compute_environment_arns]
}
