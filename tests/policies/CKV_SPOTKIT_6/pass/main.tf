resource "aws_lambda_function" "fn" {
  function_name = "fn"
  role          = "arn:aws:iam::123456789012:role/fn"
  handler       = "app.handler"
  runtime       = "python3.12"
  filename      = "fn.zip"

  environment {
    variables = {
      SLACK_WEBHOOK_PARAM = "/spotkit/slack-webhook-url"
      LOG_LEVEL           = "INFO"
    }
  }
}
