# terraform test (Terraform >= 1.7): plans (and a mock apply) against a mocked hashicorp/aws, no
# AWS account. tests/test_terraform_test.py runs it from make test.

mock_provider "aws" {}

variables {
  name  = "kit-job"
  image = "public.ecr.aws/amazonlinux/amazonlinux:2023"
}

run "default_retry_strategy_retries_only_host_ec2" {
  command = plan

  assert {
    condition     = aws_batch_job_definition.this[0].retry_strategy[0].attempts == 3
    error_message = "Three attempts by default."
  }
  assert {
    condition     = length(aws_batch_job_definition.this[0].retry_strategy[0].evaluate_on_exit) == 2
    error_message = "Two default evaluate_on_exit entries."
  }
  assert {
    condition = (
      aws_batch_job_definition.this[0].retry_strategy[0].evaluate_on_exit[0].action == "RETRY" &&
      aws_batch_job_definition.this[0].retry_strategy[0].evaluate_on_exit[0].on_status_reason == "Host EC2*" &&
      aws_batch_job_definition.this[0].retry_strategy[0].evaluate_on_exit[0].on_reason == null
    )
    error_message = "The first default entry must RETRY on statusReason \"Host EC2*\" (the Spot host was lost)."
  }
  assert {
    condition = (
      aws_batch_job_definition.this[0].retry_strategy[0].evaluate_on_exit[1].action == "EXIT" &&
      aws_batch_job_definition.this[0].retry_strategy[0].evaluate_on_exit[1].on_reason == "*" &&
      aws_batch_job_definition.this[0].retry_strategy[0].evaluate_on_exit[1].on_status_reason == null
    )
    error_message = "The second default entry must EXIT on every other reason."
  }
  assert {
    condition     = aws_batch_job_definition.this[0].type == "container" && aws_batch_job_definition.this[0].platform_capabilities == toset(["EC2"])
    error_message = "An EC2 container job definition."
  }
  assert {
    condition     = length(aws_batch_job_definition.this[0].timeout) == 0
    error_message = "No timeout block by default."
  }
}

run "container_properties" {
  command = plan

  variables {
    command                  = ["echo", "Ref::word"]
    vcpus                    = 2
    memory_mib               = 4096
    environment              = { B = "2", A = "1" }
    attempt_duration_seconds = 600
  }

  assert {
    condition = jsondecode(aws_batch_job_definition.this[0].container_properties) == {
      image   = "public.ecr.aws/amazonlinux/amazonlinux:2023"
      command = ["echo", "Ref::word"]
      resourceRequirements = [
        { type = "VCPU", value = "2" },
        { type = "MEMORY", value = "4096" },
      ]
      environment = [{ name = "A", value = "1" }, { name = "B", value = "2" }]
    }
    error_message = "container_properties: image, command, VCPU/MEMORY resource requirements, environment sorted by name, no jobRoleArn unless given."
  }
  assert {
    condition     = aws_batch_job_definition.this[0].timeout[0].attempt_duration_seconds == 600
    error_message = "attempt_duration_seconds sets the timeout."
  }
}

run "arn_without_revision" {
  command = apply

  override_resource {
    target = aws_batch_job_definition.this[0]
    values = {
      arn = "arn:aws:batch:us-east-1:123456789012:job-definition/kit-job:7"
    }
  }

  assert {
    condition     = output.arn_without_revision == "arn:aws:batch:us-east-1:123456789012:job-definition/kit-job"
    error_message = "arn_without_revision must drop \":<revision>\"."
  }
}

run "rejects_six_evaluate_on_exit_entries" {
  command = plan

  variables {
    evaluate_on_exit = [for i in range(6) : { action = "EXIT", on_exit_code = tostring(i) }]
  }

  expect_failures = [var.evaluate_on_exit]
}

run "rejects_a_reason_with_parentheses" {
  command = plan

  variables {
    evaluate_on_exit = [{ action = "RETRY", on_status_reason = "Host EC2 (instance*" }]
  }

  expect_failures = [var.evaluate_on_exit]
}

run "rejects_eleven_attempts" {
  command = plan

  variables {
    retry_attempts = 11
  }

  expect_failures = [var.retry_attempts]
}
