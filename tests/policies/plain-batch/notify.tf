# Post every FAILED job to Slack.

resource "aws_iam_role" "notify" {
  name = "batch-job-status-to-slack"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { Service = "lambda.amazonaws.com" } }]
  })
}

resource "aws_lambda_function" "notify" {
  function_name = "batch-job-status-to-slack"
  role          = aws_iam_role.notify.arn
  handler       = "index.handler"
  runtime       = "python3.12"
  filename      = "${path.module}/notify.zip"
  timeout       = 10

  environment {
    variables = {
      SLACK_WEBHOOK_URL = var.slack_webhook_url
      STAGE             = "prod"
    }
  }
}

resource "aws_cloudwatch_event_rule" "job_failed" {
  name = "batch-job-failed"
  event_pattern = jsonencode({
    source        = ["aws.batch"]
    "detail-type" = ["Batch Job State Change"]
    detail        = { status = ["FAILED"] }
  })
}

resource "aws_cloudwatch_event_target" "job_failed" {
  rule = aws_cloudwatch_event_rule.job_failed.name
  arn  = aws_lambda_function.notify.arn
}

resource "aws_lambda_permission" "events" {
  statement_id  = "AllowEventBridge"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.notify.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.job_failed.arn
}
