resource "aws_batch_compute_environment" "spot" {
  compute_environment_name = "spot"
  type                     = "MANAGED"
  service_role             = "arn:aws:iam::123456789012:role/AWSBatchServiceRole"

  compute_resources {
    type                = "SPOT"
    allocation_strategy = "SPOT_PRICE_CAPACITY_OPTIMIZED"
    instance_type       = ["m5", "m6i", "c5"]
    instance_role       = "arn:aws:iam::123456789012:instance-profile/ecsInstanceRole"
    min_vcpus           = 0
    max_vcpus           = 64
    subnets             = ["subnet-0a1b2c3d4e5f60718"]
    security_group_ids  = ["sg-0a1b2c3d4e5f60718"]
  }
}

resource "aws_batch_job_queue" "queue" {
  name     = "queue"
  state    = "ENABLED"
  priority = 1

  compute_environment_order {
    order               = 1
    compute_environment = aws_batch_compute_environment.spot.arn
  }
}

resource "aws_cloudwatch_event_rule" "failed" {
  name = "batch-job-failed"
  event_pattern = jsonencode({
    source        = ["aws.batch"]
    "detail-type" = ["Batch Job State Change"]
    detail        = { status = ["FAILED"], jobQueue = [aws_batch_job_queue.queue.arn] }
  })
}

resource "aws_lambda_function" "fn" {
  function_name                  = "fn"
  role                           = "arn:aws:iam::123456789012:role/fn"
  handler                        = "app.handler"
  runtime                        = "python3.12"
  filename                       = "fn.zip"
  reserved_concurrent_executions = 5

  environment {
    variables = {}
  }
}

resource "aws_cloudwatch_event_target" "failed" {
  rule = aws_cloudwatch_event_rule.failed.name
  arn  = aws_lambda_function.fn.arn

  dead_letter_config {
    arn = aws_sqs_queue.dlq.arn
  }
}

resource "aws_sqs_queue" "dlq" {
  name                    = "dlq"
  sqs_managed_sse_enabled = true
}
