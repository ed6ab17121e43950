# https://docs.aws.amazon.com/batch/latest/userguide/job_definition_parameters.html
locals {
  # Only keys with a value: Batch drops empty/null ones and the provider would show a diff forever.
  container_properties = merge(
    {
      image   = var.image
      command = var.command
      resourceRequirements = [
        { type = "VCPU", value = tostring(var.vcpus) },
        { type = "MEMORY", value = tostring(var.memory_mib) },
      ]
    },
    length(var.environment) == 0 ? {} : {
      environment = [for k in sort(keys(var.environment)) : { name = k, value = var.environment[k] }]
    },
    var.job_role_arn == null ? {} : { jobRoleArn = var.job_role_arn },
  )
}

resource "aws_batch_job_definition" "this" {
  count = var.create ? 1 : 0

  name                  = var.name
  type                  = "container"
  platform_capabilities = ["EC2"]
  propagate_tags        = var.propagate_tags
  parameters            = var.parameters
  container_properties  = jsonencode(local.container_properties)

  retry_strategy {
    attempts = var.retry_attempts

    dynamic "evaluate_on_exit" {
      for_each = var.evaluate_on_exit
      content {
        action           = upper(evaluate_on_exit.value.action)
        on_status_reason = evaluate_on_exit.value.on_status_reason
        on_reason        = evaluate_on_exit.value.on_reason
        on_exit_code     = evaluate_on_exit.value.on_exit_code
      }
    }
  }

  dynamic "timeout" {
    for_each = var.attempt_duration_seconds == null || var.attempt_duration_seconds == 0 ? [] : [var.attempt_duration_seconds]
    content {
      attempt_duration_seconds = timeout.value
    }
  }

  tags = merge(var.tags, { Name = var.name })
}
