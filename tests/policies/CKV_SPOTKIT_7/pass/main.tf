resource "aws_batch_job_definition" "job" {
  name = "job"
  type = "container"

  container_properties = jsonencode({
    image       = "public.ecr.aws/docker/library/busybox:latest"
    command     = ["sh", "-c", "echo hello"]
    environment = [{ name = "LOG_LEVEL", value = "INFO" }]
    secrets     = [{ name = "DB_PASSWORD", valueFrom = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf" }]
    resourceRequirements = [
      { type = "VCPU", value = "1" },
      { type = "MEMORY", value = "2048" },
    ]
  })

  retry_strategy {
    attempts = 3
    evaluate_on_exit {
      action           = "RETRY"
      on_status_reason = "Host EC2*"
    }
    evaluate_on_exit {
      action    = "EXIT"
      on_reason = "*"
    }
  }

  timeout {
    attempt_duration_seconds = 3600
  }
}
