# https://docs.aws.amazon.com/batch/latest/userguide/job_queue_parameters.html
# hashicorp/aws 3.x-5.x take the ordered `compute_environments` list (order = list position);
# 5.x deprecates it in favour of compute_environment_order blocks, removed in 6.0.
resource "aws_batch_job_queue" "this" {
  count = var.create ? 1 : 0

  name                 = var.name
  state                = var.state
  priority             = var.priority
  compute_environments = var.compute_environment_arns

  tags = merge(var.tags, { Name = var.name })
}
