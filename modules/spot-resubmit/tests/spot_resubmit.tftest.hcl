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
  name                = "kit-resubmit"
  job_queue_arns      = ["arn:aws:batch:us-east-1:123456789012:job-queue/kit-spot"]
  job_definition_arns = ["arn:aws:batch:us-east-1:123456789012:job-definition/kit-job:3"]
  # Any existing file: the package is only hashed (filebase64sha256), and nothing is uploaded.
  lambda_zip_path = "main.tf"
}

run "event_source_mapping_defaults" {
  command = plan

  # The DLQ's ARN, known at plan time here, so the redrive policy can be read.
  override_resource {
    target          = aws_sqs_queue.dlq[0]
    override_during = plan
    values = {
      arn = "arn:aws:sqs:us-east-1:123456789012:kit-resubmit-dlq"
    }
  }

  assert {
    condition     = aws_lambda_event_source_mapping.this[0].function_response_types == toset(["ReportBatchItemFailures"])
    error_message = "The event source mapping must report batch item failures (only failed records return to the queue)."
  }
  assert {
    condition     = aws_lambda_event_source_mapping.this[0].batch_size == 10 && aws_lambda_event_source_mapping.this[0].maximum_batching_window_in_seconds == 5
    error_message = "Defaults: batch size 10, batching window 5 s."
  }
  assert {
    condition     = length(aws_lambda_event_source_mapping.this[0].scaling_config) == 0
    error_message = "No scaling_config unless maximum_concurrency is set."
  }
  assert {
    condition     = aws_lambda_function.this[0].runtime == "python3.13" && aws_lambda_function.this[0].environment[0].variables["SPOTKIT_SUBMIT_JOB_RATE"] == "0"
    error_message = "python3.13 by default; without maximum_concurrency SubmitJob is unpaced (\"0\")."
  }
  assert {
    condition     = aws_sqs_queue.events[0].visibility_timeout_seconds == 6 * 60 + 5
    error_message = "The events queue's visibility timeout is 6 x the function timeout + the batching window."
  }
  assert {
    condition     = jsondecode(aws_sqs_queue.events[0].redrive_policy) == { deadLetterTargetArn = "arn:aws:sqs:us-east-1:123456789012:kit-resubmit-dlq", maxReceiveCount = 5 }
    error_message = "The events queue redrives to the DLQ after max_receive_count (5) receives."
  }
}

run "maximum_concurrency_sets_scaling_config" {
  command = plan

  variables {
    batch_size                      = 500
    maximum_batching_window_seconds = 1
    maximum_concurrency             = 2
  }

  assert {
    condition     = aws_lambda_event_source_mapping.this[0].scaling_config[0].maximum_concurrency == 2
    error_message = "maximum_concurrency must become scaling_config.maximum_concurrency."
  }
  assert {
    condition     = aws_lambda_event_source_mapping.this[0].batch_size == 500
    error_message = "batch_size is passed through."
  }
  assert {
    condition     = aws_lambda_function.this[0].environment[0].variables["SPOTKIT_SUBMIT_JOB_RATE"] == "25"
    error_message = "Each of 2 concurrent invocations paces SubmitJob at 50 / 2 = 25 per second."
  }
}

run "rejects_batch_size_11_without_a_batching_window" {
  command = plan

  variables {
    batch_size                      = 11
    maximum_batching_window_seconds = 0
  }

  expect_failures = [aws_lambda_event_source_mapping.this]
}

run "runnable_timeout_rule_alerts_the_topic" {
  command = plan

  assert {
    condition = jsondecode(aws_cloudwatch_event_rule.runnable_timeout[0].event_pattern) == {
      source      = ["aws.batch"]
      detail-type = ["Batch Job State Change"]
      detail = {
        status       = ["FAILED"]
        statusReason = [{ prefix = "Canceled by JobStateTimeLimit action" }]
        jobQueue     = ["arn:aws:batch:us-east-1:123456789012:job-queue/kit-spot"]
      }
    }
    error_message = "The RUNNABLE-timeout rule must match FAILED jobs of these queues whose statusReason starts with \"Canceled by JobStateTimeLimit action\"."
  }
  assert {
    condition     = aws_cloudwatch_event_rule.runnable_timeout[0].name == "kit-resubmit-runnable-timeout" && length(aws_cloudwatch_event_target.runnable_timeout) == 1
    error_message = "With the created alert topic the rule and its target exist."
  }
  assert {
    condition     = length(aws_sns_topic_policy.alerts) == 1
    error_message = "The created topic gets a policy letting the rule publish."
  }
  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.failed[0].event_pattern).detail == { status = ["FAILED"], jobQueue = ["arn:aws:batch:us-east-1:123456789012:job-queue/kit-spot"] }
    error_message = "The resubmit rule matches every FAILED job of these queues."
  }
}

run "runnable_timeout_target_uses_a_topic_passed_in" {
  command = plan

  variables {
    create_alert_topic = false
    alert_topic_arn    = "arn:aws:sns:us-east-1:123456789012:ops"
  }

  assert {
    condition     = aws_cloudwatch_event_target.runnable_timeout[0].arn == "arn:aws:sns:us-east-1:123456789012:ops"
    error_message = "The RUNNABLE-timeout target is the alert topic passed in."
  }
  assert {
    condition     = length(aws_sns_topic.alerts) == 0 && length(aws_sns_topic_policy.alerts) == 0
    error_message = "No topic (or topic policy) is created when one is passed in."
  }
}

run "no_runnable_timeout_rule_without_an_alert_topic" {
  command = plan

  variables {
    create_alert_topic = false
  }

  assert {
    condition     = length(aws_cloudwatch_event_rule.runnable_timeout) == 0 && length(aws_cloudwatch_event_target.runnable_timeout) == 0
    error_message = "Without an alert topic there is nothing to notify: no RUNNABLE-timeout rule or target."
  }
  assert {
    condition     = aws_lambda_function.this[0].environment[0].variables["SPOTKIT_ALERT_TOPIC_ARN"] == ""
    error_message = "The function gets an empty alert topic."
  }
}

run "rejects_out_of_range_delivery_settings" {
  command = plan

  variables {
    batch_size          = 10001
    maximum_concurrency = 1
    max_receive_count   = 0
  }

  expect_failures = [var.batch_size, var.maximum_concurrency, var.max_receive_count]
}
