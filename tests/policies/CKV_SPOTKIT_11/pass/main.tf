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

resource "aws_cloudwatch_event_rule" "failed" {
  name = "batch-job-failed"
  event_pattern = jsonencode({
    source        = ["aws.batch"]
    "detail-type" = ["Batch Job State Change"]
    detail        = { status = ["FAILED"] }
  })
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
